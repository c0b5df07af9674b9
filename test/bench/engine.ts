// wgm-engine end to end beside stock wireguard-go, in the same run: a wgm-engine pair and a
// wireguard-go pair, each in its own two namespaces (test/lib/netns.ts), configured by stock
// `wg`. Rounds alternate between the pairs so that noise hits both; medians are reported.
//
//   TCP throughput   iperf3 for S seconds through the tunnel
//   CPU per Gbit     CPU seconds of both daemons of a pair over that run, per gigabit carried
//   ping RTT         median of 50 pings (after a warm-up)
//   handshakes/s     PEERS initiators (real Cores, engine-handshake-client.ts), each from its own
//                    address, against the pair's B side, which knows them all (the client's own
//                    CPU is part of the measure, the same for both)
//   memory           resident memory of a fresh daemon before and after `wg setconf` with
//                    1,000 peers
//
// Run as root: node <build>/test/bench/engine.js [seconds] [rounds]. Printed, never asserted.

import { fileURLToPath } from 'node:url';
import { type Daemon, type Impl, keypair, Lab, type Tunnel, tunnel } from '../lib/netns.js';
import { cpuSeconds, rssKiB } from '../lib/proc.js';
import { which } from '../lib/run.js';
import { HANDSHAKE_PEERS, prepareInitiators, runInitiators } from './handshake-initiators.js';
import { median, type Row } from './report.js';

const MEMORY_PEERS = 1000;

interface Sample {
  mbits: number;
  cpuPerGbit: number;
  rttMs: number;
}

function pingMedian(lab: Lab, t: Tunnel): number {
  lab.exec(t.a.ns, 'ping', ['-n', '-q', '-c', '10', '-i', '0.02', t.b.inner.v4]);
  const r = lab.exec(t.a.ns, 'ping', ['-n', '-c', '50', '-i', '0.02', t.b.inner.v4]);
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return rtts.length > 0 ? median(rtts) : Number.NaN;
}

async function iperf(lab: Lab, t: Tunnel, seconds: number): Promise<Sample> {
  const server = lab.spawn(t.b.ns, 'iperf3', ['-s', '-1', '--forceflush', '-B', t.b.inner.v4]);
  let out = '';
  server.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  for (let i = 0; i < 100 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
  const pids = [t.a.d.proc.pid!, t.b.d.proc.pid!];
  const cpu = () => pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const c0 = cpu();
  const r = lab.exec(t.a.ns, 'iperf3', ['-c', t.b.inner.v4, '-t', String(seconds), '-J'], {
    timeoutMs: (seconds + 30) * 1000,
  });
  const used = cpu() - c0;
  server.kill();
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
  const { bits_per_second: bps, bytes } = j.end.sum_received;
  return { mbits: bps / 1e6, cpuPerGbit: used / ((bytes * 8) / 1e9), rttMs: pingMedian(lab, t) };
}

/** Handshakes per second the pair's B side completes for HANDSHAKE_PEERS initiators in A's namespace. */
function handshakeRate(lab: Lab, t: Tunnel, seconds: number): number {
  const j = runInitiators(lab, prepareInitiators(lab, t), { seconds });
  if (j.handshakes === 0)
    console.error(`no handshake with ${t.b.d.impl}; its log:\n${t.b.d.output().slice(-3000)}`);
  return j.handshakes / j.seconds;
}

/** Resident memory (KiB) of a fresh daemon, before and after 1,000 peers. */
async function memory(lab: Lab, impl: Impl): Promise<[number, number]> {
  const d: Daemon = await lab.daemon(impl, lab.netns(impl === 'wgm-engine' ? 'm' : 'g'));
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKiB(d.proc.pid!);
  const me = keypair();
  const peers = Array.from({ length: MEMORY_PEERS }, (_, i) => {
    const pub = Buffer.from(keypair().pub, 'base64');
    pub[0] = i & 255; // cheaper than genkey for each: any 32 bytes are a valid peer key
    return [
      '[Peer]',
      `PublicKey = ${pub.toString('base64')}`,
      `AllowedIPs = 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`,
      `Endpoint = 192.0.2.${1 + (i % 250)}:${20000 + i}`,
      '',
    ].join('\n');
  });
  const conf = lab.file(
    `mem-${d.ifname}.conf`,
    `[Interface]\nPrivateKey = ${me.priv}\nListenPort = 0\n\n${peers.join('\n')}`,
  );
  lab.wg(d.ns, ['setconf', d.ifname, conf]);
  await new Promise((r) => setTimeout(r, 1000));
  return [before, rssKiB(d.proc.pid!)];
}

const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : 'n/a');

export async function benchEngine(seconds = 5, rounds = 3): Promise<Row[]> {
  const missing = ['ip', 'iperf3', 'ping', 'wg', 'wireguard-go'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(`engine bench skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}`);
    return [];
  }
  const lab = new Lab('bn');
  try {
    const ours = await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 243 });
    const stock = await tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 244 });
    const so: Sample[] = [];
    const ss: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      so.push(await iperf(lab, ours, seconds));
      ss.push(await iperf(lab, stock, seconds));
    }
    const hs = [handshakeRate(lab, ours, seconds), handshakeRate(lab, stock, seconds)];
    const memOurs = await memory(lab, 'wgm-engine');
    const memStock = await memory(lab, 'wireguard-go');
    const m = (xs: Sample[], f: (s: Sample) => number) => median(xs.map(f));
    const row = (what: string, a: number, b: number, unit: string, digits: number): Row => ({
      what,
      ours: `${a.toFixed(digits)} ${unit}`,
      stock: `${b.toFixed(digits)} ${unit}`,
      ratio: ratio(a, b),
    });
    return [
      row(
        'engine: TCP throughput (iperf3)',
        m(so, (s) => s.mbits),
        m(ss, (s) => s.mbits),
        'Mbit/s',
        0,
      ),
      row(
        'engine: CPU per Gbit (both ends)',
        m(so, (s) => s.cpuPerGbit),
        m(ss, (s) => s.cpuPerGbit),
        's',
        2,
      ),
      row(
        'engine: ping RTT (median)',
        m(so, (s) => s.rttMs),
        m(ss, (s) => s.rttMs),
        'ms',
        3,
      ),
      row(`engine: handshakes/s (${HANDSHAKE_PEERS} initiators)`, hs[0]!, hs[1]!, '/s', 0),
      row('engine: memory, idle', memOurs[0] / 1024, memStock[0] / 1024, 'MiB', 1),
      row(`engine: memory, ${MEMORY_PEERS} peers`, memOurs[1] / 1024, memStock[1] / 1024, 'MiB', 1),
    ];
  } finally {
    await lab.cleanup();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./report.js');
  printTable(await benchEngine(Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 3)));
}
