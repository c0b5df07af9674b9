// The data plane end to end beside stock wireguard-go, in the same run: TCP throughput (iperf3)
// and round-trip time (ping) through a tunnel between two network namespaces, and the CPU time
// each implementation spends per gigabyte moved (both ends together), which stays meaningful
// when the machine is shared. Rounds alternate wgm and wireguard-go so that noise hits both.
//
// On a shared machine the scheduler, not the implementation, sets the pace: CFS shares CPU per
// thread, so the implementation with more runnable threads gets more of it. So everything this
// benchmark starts (both implementations, iperf3, ping, and this process with its workers) runs
// at the same raised priority (nice $NICE, default -15) and the other load matters less.
//
// Run as root: node <build>/test/bench/dataplane-tunnel.js [seconds] [rounds] [tx] [rx]
// Printed, never asserted.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from '../lib/proc.js';
import { which } from '../lib/run.js';
import { makePair } from '../unit/engine/dataplane/pair.js';
import { addNetns, deleteNetns, ip, nsName, vethPair } from '../unit/sys/netns.js';
import { median, printTable, type Row } from './report.js';

interface Sample {
  mbits: number;
  /** CPU seconds of the implementation (both ends) per gigabyte carried. */
  cpuPerGB: number;
  rttMs: number;
}

const NICE = Number(process.env['NICE'] ?? -15);

/** `ip netns exec ns cmd...` at the benchmark's priority. */
function inNs(ns: string, ...cmd: string[]): [string, string[]] {
  return ['nice', ['-n', String(NICE), 'ip', 'netns', 'exec', ns, ...cmd]];
}

/** Mean ping RTT after a warm-up (the first packets through a fresh worker run cold code). */
function pingRtt(ns: string, to: string): number {
  spawnSync(...inNs(ns, 'ping', '-n', '-q', '-c', '20', '-i', '0.02', to));
  const r = spawnSync(...inNs(ns, 'ping', '-n', '-q', '-c', '50', '-i', '0.02', to), {
    encoding: 'utf8',
  });
  const m = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  return m ? Number(m[1]) : Number.NaN;
}

/** iperf3 from A to B for `seconds`; `cpu()` reads the implementation's CPU seconds so far. */
async function iperf(
  nsA: string,
  nsB: string,
  to: string,
  seconds: number,
  cpu: () => number,
): Promise<Sample> {
  const server = spawn(...inNs(nsB, 'iperf3', '-s', '-1', '-B', to), { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const rtt = pingRtt(nsA, to);
    const c0 = cpu();
    const client = await new Promise<string>((resolve) => {
      const p = spawn(...inNs(nsA, 'iperf3', '-c', to, '-t', String(seconds), '-J'), {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      p.stdout.on('data', (d) => {
        out += d;
      });
      p.on('close', () => resolve(out));
    });
    const used = cpu() - c0;
    const j = JSON.parse(client) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
    const { bits_per_second: bps, bytes } = j.end.sum_received;
    return { mbits: bps / 1e6, cpuPerGB: used / (bytes / 1e9), rttMs: rtt };
  } finally {
    server.kill();
  }
}

async function roundWgm(net: number, seconds: number, tx: number, rx: number): Promise<Sample> {
  const p = await makePair({ net, tag: `bw${net}`, dp: { txThreads: tx, rxThreads: rx } });
  try {
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    return await iperf(p.nsA, p.nsB, `10.${net}.0.2`, seconds, cpu);
  } finally {
    await p.close();
  }
}

async function roundWireguardGo(net: number, seconds: number): Promise<Sample> {
  const nsA = nsName(`bg${net}a`);
  const nsB = nsName(`bg${net}b`);
  const dir = mkdtempSync(join(tmpdir(), 'wgm-bench-'));
  const procs: ChildProcess[] = [];
  deleteNetns(nsA);
  deleteNetns(nsB);
  addNetns(nsA);
  addNetns(nsB);
  try {
    const { addrA, addrB } = vethPair(nsA, nsB, net);
    const ifA = `wgb${process.pid % 10000}a`;
    const ifB = `wgb${process.pid % 10000}b`;
    const keys = [0, 1].map(() => spawnSync('wg', ['genkey'], { encoding: 'utf8' }).stdout.trim());
    const pubs = keys.map((k) => spawnSync('wg', ['pubkey'], { input: k, encoding: 'utf8' }).stdout.trim());
    for (const [i, [ns, ifn]] of [
      [nsA, ifA],
      [nsB, ifB],
    ].entries()) {
      procs.push(
        spawn(...inNs(ns!, 'wireguard-go', '-f', ifn!), {
          stdio: 'ignore',
          env: { ...process.env, LOG_LEVEL: 'error', WG_PROCESS_FOREGROUND: '1' },
        }),
      );
      for (let t = 0; t < 100 && !existsSync(`/var/run/wireguard/${ifn}.sock`); t++)
        await new Promise((r) => setTimeout(r, 20));
      writeFileSync(join(dir, `key${i}`), `${keys[i]}\n`, { mode: 0o600 });
    }
    const conf = (
      ns: string,
      ifn: string,
      i: number,
      peer: number,
      endpoint: string,
      allowed: string,
      addr: string,
    ) => {
      const r = spawnSync('ip', [
        'netns',
        'exec',
        ns,
        'wg',
        'set',
        ifn,
        'private-key',
        join(dir, `key${i}`),
        'listen-port',
        String(51000 + i),
        'peer',
        pubs[peer]!,
        'endpoint',
        `${endpoint}:${51000 + peer}`,
        'allowed-ips',
        allowed,
      ]);
      if (r.status !== 0) throw new Error(`wg set: ${r.stderr}`);
      ip(ns, 'addr', 'add', addr, 'dev', ifn);
      ip(ns, 'link', 'set', ifn, 'mtu', '1420', 'up');
    };
    conf(nsA, ifA, 0, 1, addrB, `10.${net}.0.2/32`, `10.${net}.0.1/24`);
    conf(nsB, ifB, 1, 0, addrA, `10.${net}.0.1/32`, `10.${net}.0.2/24`);
    const pids = procs.map((p) => p.pid!);
    const cpu = () => pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
    return await iperf(nsA, nsB, `10.${net}.0.2`, seconds, cpu);
  } finally {
    for (const p of procs) p.kill();
    await new Promise((r) => setTimeout(r, 100));
    deleteNetns(nsA);
    deleteNetns(nsB);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchTunnel(seconds = 5, rounds = 3, tx = 1, rx = 1): Promise<Row[]> {
  const missing = ['ip', 'iperf3', 'ping', 'wg', 'wireguard-go'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(`dataplane tunnel bench skipped: needs root and ${missing.join(', ') || 'nothing else'}`);
    return [];
  }
  const ours: Sample[] = [];
  const stock: Sample[] = [];
  setPriority(NICE); // this thread, and so the workers it starts
  try {
    for (let r = 0; r < rounds; r++) {
      ours.push(await roundWgm(90 + r, seconds, tx, rx));
      stock.push(await roundWireguardGo(95 + r, seconds));
    }
  } finally {
    setPriority(0);
  }
  const row = (what: string, pick: (s: Sample) => number, unit: string, digits: number): Row => {
    const a = median(ours.map(pick));
    const b = median(stock.map(pick));
    return {
      what,
      ours: `${a.toFixed(digits)} ${unit}`,
      stock: `${b.toFixed(digits)} ${unit}`,
      ratio: `${(a / b).toFixed(2)}×`,
    };
  };
  return [
    row(`tunnel TCP throughput (iperf3, ${seconds} s, median of ${rounds})`, (s) => s.mbits, 'Mbit/s', 0),
    row('tunnel CPU per GB carried (both ends)', (s) => s.cpuPerGB, 'CPU-s', 2),
    row('tunnel ping RTT (mean of 50, after 20 warm-up)', (s) => s.rttMs, 'ms', 3),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [s, r, tx, rx] = process.argv.slice(2).map(Number);
  printTable(await benchTunnel(s || 5, r || 3, tx || 1, rx || 1));
}
