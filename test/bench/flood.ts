// What an initiation flood costs a responder, wgm-engine beside wireguard-go in the same run:
// the daemon's CPU time over a blast from test/lib/flood.ts (as fast as it sends, one source),
// per datagram the kernel delivered to its socket, and that as a share of one DH (X25519 timed
// in this process during the blast, so both see the same machine). The test
// (test/interop/engine-flood.test.ts) only checks that a message costs less than a DH; this is
// the figure. Run as root: node <build>/test/bench/flood.js [seconds]. Printed, never asserted.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedSecret } from '../../src/crypto/x25519-native.js';
import type { FloodReport, FloodSpec } from '../lib/flood.js';
import { type Impl, keypair, Lab, snmp } from '../lib/netns.js';
import { cpuSeconds } from '../lib/proc.js';
import { BUILD, which } from '../lib/run.js';
import type { Row } from './report.js';

const FLOOD_JS = join(BUILD, 'test/lib/flood.js');
const PORT = 51820;

function dhCost(rounds: number): number {
  const priv = new Uint8Array(randomBytes(32));
  const pubs = Array.from({ length: rounds }, () => new Uint8Array(randomBytes(32)));
  const c = process.cpuUsage();
  for (const p of pubs) sharedSecret(priv, p);
  const u = process.cpuUsage(c);
  return (u.user + u.system) / 1e6 / rounds;
}

/** CPU seconds per delivered flood datagram, and seconds per DH measured meanwhile. */
async function blast(lab: Lab, impl: Impl, net: number, seconds: number): Promise<[number, number]> {
  const r = lab.netns('r');
  const f = lab.netns('f');
  const v = lab.veth(r, f, net);
  const d = await lab.daemon(impl, r);
  const kr = keypair();
  lab.wg(r, [
    'set',
    d.ifname,
    'private-key',
    lab.file(`r${net}.key`, `${kr.priv}\n`),
    'listen-port',
    String(PORT),
    'peer',
    keypair().pub,
    'allowed-ips',
    `10.${net}.0.2/32`,
  ]);
  lab.ip(r, 'link', 'set', d.ifname, 'up');
  const pid = d.proc.pid!;
  const spec: FloodSpec = { target: `${v.v4[0]}:${PORT}`, publicKey: kr.pub, seconds };
  const c0 = cpuSeconds(pid);
  const in0 = snmp(lab, r, 'Udp', 'InDatagrams');
  const p = lab.spawn(f, process.execPath, [FLOOD_JS, JSON.stringify(spec)]);
  let out = '';
  p.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const ended = new Promise((res) => p.once('close', res));
  await new Promise((res) => setTimeout(res, 1000));
  const dh = dhCost(300);
  await ended;
  const used = cpuSeconds(pid) - c0;
  const delivered = snmp(lab, r, 'Udp', 'InDatagrams') - in0;
  const report = JSON.parse(out || '{}') as Partial<FloodReport>;
  console.error(
    `flood bench ${impl}: sent ${report.sent ?? '?'}, delivered ${delivered}, cookie replies ${report.cookies ?? '?'}, CPU ${used.toFixed(2)} s`,
  );
  return [delivered > 0 ? used / delivered : Number.NaN, dh];
}

export async function benchFlood(seconds = 8): Promise<Row[]> {
  const missing = ['ip', 'wg', 'wireguard-go'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(`flood bench skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}`);
    return [];
  }
  const lab = new Lab('bf');
  try {
    const [ours, dhO] = await blast(lab, 'wgm-engine', 248, seconds);
    const [stock, dhS] = await blast(lab, 'wireguard-go', 249, seconds);
    const us = (x: number) => (Number.isFinite(x) ? `${(x * 1e6).toFixed(2)} us` : 'n/a');
    return [
      {
        what: 'engine: CPU per flood initiation (blast)',
        ours: `${us(ours)} (${(ours / dhO).toFixed(3)} DH)`,
        stock: `${us(stock)} (${(stock / dhS).toFixed(3)} DH)`,
        ratio: Number.isFinite(ours / stock) ? `${(ours / stock).toFixed(2)}x` : 'n/a',
      },
    ];
  } finally {
    await lab.cleanup();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./report.js');
  printTable(await benchFlood(Number(process.argv[2] ?? 8)));
}
