// The engine's timers and its stop, beside stock wireguard-go in the same run. The tests assert
// only that each thing happens, within generous bounds (a loaded CI machine stretches every
// wait); how close to the nominal figure an implementation keeps is measured here:
//
//   keepalive interval   persistent-keepalive 1 on A; the mean time between keepalives B
//                        receives (B's rx counter polled through `wg show dump`; averaged
//                        over KEEPALIVES intervals, so the polling error shrinks with it)
//   rekey after          with a ping every 0.2 s through the tunnel, the time from the first
//                        handshake response to the next initiation, seen on the wire
//                        (test/lib/wire-tap.ts); nominal REKEY_AFTER_TIME, 120 s (whitepaper
//                        6.1). Both pairs run at once: about 2.5 minutes.
//   stop on SIGTERM      from the signal to the foreground daemon's exit (median of ROUNDS)
//
// Run as root: node <build>/test/bench/timers.js [--no-rekey]. Printed, never asserted.

import { fileURLToPath } from 'node:url';
import { dumpPeers, type Impl, Lab, pidsOf, type Tunnel, tunnel } from '../lib/netns.js';
import { which } from '../lib/run.js';
import { startTap } from '../lib/wire-tap.js';
import { median, type Row } from './report.js';

const KEEPALIVES = 10;
const KEEPALIVE_BYTES = 32;
const POLL_MS = 10;
const REKEY_AFTER_TIME_S = 120;
const REKEY_RUN_S = REKEY_AFTER_TIME_S + 10;
const ROUNDS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mean seconds between the keepalives B receives from A, over KEEPALIVES intervals. */
async function keepaliveInterval(lab: Lab, t: Tunnel): Promise<number> {
  const { a, b } = t;
  const rx = () => dumpPeers(lab, b).get(a.key.pub)?.rx ?? 0;
  // The tunnel is up (a ping went through); let its traffic settle first.
  await sleep(500);
  lab.wg(a.ns, ['set', a.ifname, 'peer', b.key.pub, 'persistent-keepalive', '1']);
  const arrivals: number[] = [];
  let last = rx();
  const until = Date.now() + (KEEPALIVES + 5) * 3000;
  while (arrivals.length <= KEEPALIVES && Date.now() < until) {
    const now = rx();
    if (now > last) {
      arrivals.push(performance.now());
      // Two keepalives between two polls would be a counting error, not a short interval.
      if ((now - last) / KEEPALIVE_BYTES > 1) arrivals.push(performance.now());
      last = now;
    }
    await sleep(POLL_MS);
  }
  lab.wg(a.ns, ['set', a.ifname, 'peer', b.key.pub, 'persistent-keepalive', 'off']);
  if (arrivals.length < 3) return Number.NaN;
  // The first keepalive goes out at once when the setting is made: count from it.
  return (arrivals.at(-1)! - arrivals[0]!) / (arrivals.length - 1) / 1000;
}

/** Seconds from the first handshake's response to the rekey's initiation under steady pings. */
async function rekeyAfter(lab: Lab, t: Tunnel): Promise<number> {
  const tap = await startTap(lab, t.a.ns, t.vethA);
  const p = lab.spawn(t.a.ns, 'ping', [
    '-n',
    '-q',
    '-i',
    '0.2',
    '-W',
    '2',
    '-w',
    String(REKEY_RUN_S),
    t.b.inner.v4,
  ]);
  await new Promise((r) => p.once('exit', r));
  const resp = tap.events.find((e) => e.type === 'resp');
  const inits = tap.events.filter((e) => e.type === 'init');
  const second = resp ? inits.find((e) => e.t > resp.t) : undefined;
  return resp && second ? (second.t - resp.t) / 1000 : Number.NaN;
}

/** Median milliseconds from SIGTERM to the exit of a fresh foreground daemon. */
async function stopTime(lab: Lab, impl: Impl): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const d = await lab.daemon(impl, lab.netns(`s${i}`));
    await sleep(200);
    const [pid] = pidsOf([d.ifname]);
    if (pid === undefined) continue;
    const t0 = performance.now();
    process.kill(pid, 'SIGTERM');
    await d.exited;
    times.push(performance.now() - t0);
  }
  return times.length ? median(times) : Number.NaN;
}

const fmt = (x: number, digits: number, unit: string) =>
  Number.isFinite(x) ? `${x.toFixed(digits)} ${unit}` : 'n/a';
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : 'n/a');

export async function benchTimers(opts: { rekey?: boolean } = {}): Promise<Row[]> {
  const missing = ['ip', 'ping', 'wg', 'wireguard-go'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(`timers bench skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}`);
    return [];
  }
  const rows: Row[] = [];
  const lab = new Lab('bt');
  try {
    const ours = await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 246 });
    const stock = await tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 247 });
    for (const tun of [ours, stock])
      lab.exec(tun.a.ns, 'ping', ['-n', '-q', '-c', '2', '-i', '0.2', tun.b.inner.v4]);
    const ka = [await keepaliveInterval(lab, ours), await keepaliveInterval(lab, stock)] as const;
    rows.push({
      what: 'engine: persistent keepalive interval (1 s set)',
      ours: fmt(ka[0] * 1000, 1, 'ms'),
      stock: fmt(ka[1] * 1000, 1, 'ms'),
      ratio: `error ${fmt((ka[0] - 1) * 1000, 1, 'ms')} / ${fmt((ka[1] - 1) * 1000, 1, 'ms')}`,
    });
    if (opts.rekey !== false) {
      // Fresh pairs: the tap must see their first handshake.
      const [ro, rs] = await Promise.all([
        tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 248 }).then((t) => rekeyAfter(lab, t)),
        tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 249 }).then((t) => rekeyAfter(lab, t)),
      ]);
      rows.push({
        what: `engine: rekey after first handshake (${REKEY_AFTER_TIME_S} s nominal)`,
        ours: fmt(ro, 2, 's'),
        stock: fmt(rs, 2, 's'),
        ratio: `late ${fmt(ro - REKEY_AFTER_TIME_S, 2, 's')} / ${fmt(rs - REKEY_AFTER_TIME_S, 2, 's')}`,
      });
    }
    const st = [await stopTime(lab, 'wgm-engine'), await stopTime(lab, 'wireguard-go')] as const;
    rows.push({
      what: `engine: stop on SIGTERM (median of ${ROUNDS})`,
      ours: fmt(st[0], 0, 'ms'),
      stock: fmt(st[1], 0, 'ms'),
      ratio: ratio(st[0], st[1]),
    });
  } finally {
    await lab.cleanup();
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./report.js');
  printTable(await benchTimers({ rekey: !process.argv.includes('--no-rekey') }));
}
