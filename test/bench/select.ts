// Endpoint selection on real paths (issue 10's figures): wgm-engine with three `Endpoint` lines
// toward a stock wireguard-go responder, each path a delay relay (test/lib/select-lab.ts),
// beside stock wireguard-go as the initiator with the same configuration (stock `wg setconf`
// keeps only the last `Endpoint` line). Every round builds a fresh lab. Traffic is `ping -D`
// every 50 ms through the tunnel; times are taken from the replies' wall-clock stamps.
//
//   first traffic, 2 of 3 dead   first and last candidates blackholed: from the first echo
//                                sent to the first reply (target 1.5 s)
//   failover                     paths 5/15/25 ms, the active one blackholed both ways after
//                                4 s of traffic: from the cut to the first reply to an echo
//                                sent after it (target 3 s, aim 1.5 s)
//   settle on the fastest        paths 60/30/5 ms listed slowest first: from the first reply
//                                until the 5 ms path is active for good (target 10 s), and the
//                                switches of the active endpoint in the first minute
//   return to a preferred path   paths 5 (dead at first)/30/60 ms: from reviving the first
//                                path until it is active again (target: one upgrade interval,
//                                60 s)
//   strict preference            paths 60/30/5 ms with `EndpointPolicy = preference`: from the
//                                first reply until the first (slowest, most preferred) path is
//                                active for good (target 10 s), and the switches in the first
//                                minute (target 0)
//   mirroring                    paths 40/45/50/55 ms, echoes every 20 ms, the active path
//                                blackholed: echoes lost in the failover, wgm-engine with
//                                mirroring against WGM_MIRROR=off
//   refused send                 paths 5/15/25 ms, an iptables OUTPUT REJECT rule for the
//                                active one: from the rule to the first reply after it
//
// Run as root: node <build>/test/bench/select.js. WGM_BENCH_SELECT_ROUNDS sets the rounds (default
// 5 for the short cases, 3 for the minute-long ones). Printed, never asserted.

import { fileURLToPath } from 'node:url';
import { type Impl, Lab, sleep, waitFor } from '../lib/netns.js';
import { which } from '../lib/run.js';
import {
  activeEndpoint,
  INNER_R,
  lostAround,
  type PathSpec,
  RESPONDER_PORT,
  type SelectLab,
  selectLab,
  startPing,
  watchEndpoint,
} from '../lib/select-lab.js';
import { median, type Row } from './report.js';

const NEVER = Number.POSITIVE_INFINITY;
const SETTLE_WATCH_MS = 60_000;

/** Runs `body` on a fresh lab with `specs`; `body` returns a time in ms (NEVER when it timed out). */
async function round<T>(
  impl: Impl,
  specs: PathSpec[],
  body: (lab: Lab, s: SelectLab) => Promise<T>,
  opts: { policy?: 'preference'; initiatorEnv?: NodeJS.ProcessEnv } = {},
): Promise<T> {
  const lab = new Lab('bs');
  try {
    return await body(lab, await selectLab(lab, specs, { initiator: impl, ...opts }));
  } finally {
    await lab.cleanup();
  }
}

const within = <T>(what: string, pred: () => T | Promise<T>, ms: number, step = 20) =>
  waitFor(what, pred, ms, step).catch(() => undefined);

async function firstTraffic(impl: Impl, waitMs: number): Promise<number> {
  return round(impl, [{ delay: 5, dead: true }, { delay: 5 }, { delay: 5, dead: true }], async (lab, s) => {
    const ping = startPing(lab, s.nsI, INNER_R);
    const got = await within('first reply', () => ping.replies.length > 0, waitMs);
    await ping.stop();
    return got ? ping.replies[0]!.t - ping.firstSent() : NEVER;
  });
}

async function failover(impl: Impl, waitMs: number): Promise<number> {
  return round(impl, [{ delay: 5 }, { delay: 15 }, { delay: 25 }], async (lab, s) => {
    const ping = startPing(lab, s.nsI, INNER_R);
    try {
      if (!(await within('first reply', () => ping.replies.length > 0, 20_000))) return Number.NaN;
      await sleep(4000);
      const active = await activeEndpoint(s.initiator.ifname);
      const path = s.paths.find((p) => p.endpoint === active);
      if (!path) return Number.NaN;
      await path.command('both blackhole=1');
      const cut = Date.now();
      const back = await within('traffic back', () => ping.firstReplyAfter(cut), waitMs);
      return back ? back.t - cut : NEVER;
    } finally {
      await ping.stop();
    }
  });
}

/** Echoes (every 20 ms) lost when the active one of four paths of 40-55 ms dies. */
async function mirroredFailover(mirror: boolean): Promise<number> {
  const specs = [{ delay: 40 }, { delay: 45 }, { delay: 50 }, { delay: 55 }];
  const env = { WGM_MIRROR: mirror ? 'on' : 'off' };
  return round(
    'wgm-engine',
    specs,
    async (lab, s) => {
      const ping = startPing(lab, s.nsI, INNER_R, 0.02);
      try {
        if (!(await within('first reply', () => ping.replies.length > 0, 20_000))) return Number.NaN;
        await sleep(6000);
        const active = await activeEndpoint(s.initiator.ifname);
        const path = s.paths.find((p) => p.endpoint === active);
        if (!path) return Number.NaN;
        await path.command('both blackhole=1');
        const cut = Date.now();
        if (!(await within('traffic back', () => ping.firstReplyAfter(cut), 20_000))) return NEVER;
        await sleep(1000);
        return lostAround(ping, cut);
      } finally {
        await ping.stop();
      }
    },
    { initiatorEnv: env },
  );
}

/** From an iptables OUTPUT REJECT rule for the active path to the first reply after it. */
async function refusedFailover(impl: Impl, waitMs: number): Promise<number> {
  return round(impl, [{ delay: 5 }, { delay: 15 }, { delay: 25 }], async (lab, s) => {
    const ping = startPing(lab, s.nsI, INNER_R);
    try {
      if (!(await within('first reply', () => ping.replies.length > 0, 20_000))) return Number.NaN;
      await sleep(4000);
      const active = await activeEndpoint(s.initiator.ifname);
      const host = active.slice(0, active.lastIndexOf(':'));
      const port = String(RESPONDER_PORT);
      lab.exec(s.nsI, 'iptables', ['-I', 'OUTPUT', '-d', host, '-p', 'udp', '--dport', port, '-j', 'REJECT']);
      const cut = Date.now();
      const back = await within('traffic back', () => ping.firstReplyAfter(cut), waitMs);
      return back ? back.t - cut : NEVER;
    } finally {
      await ping.stop();
    }
  });
}

/** "median (min-max, n)" of counts. */
function counts(xs: number[]): string {
  const ok = xs.filter(Number.isFinite);
  if (ok.length === 0) return 'n/a';
  return `${median(ok)} (${Math.min(...ok)}-${Math.max(...ok)}, n=${ok.length})`;
}

/**
 * Paths 60/30/5 ms: how long after the first reply path `target` is active for good, and the
 * switches within `watchMs`. With `policy` (wgm-engine only: wireguard-go has no such key).
 */
async function settle(
  impl: Impl,
  watchMs: number,
  target = 2,
  policy?: 'preference',
): Promise<{ ms: number; switches: number }> {
  const specs = [{ delay: 60 }, { delay: 30 }, { delay: 5 }];
  return round(
    impl,
    specs,
    async (lab, s) => {
      const watch = watchEndpoint(s.initiator.ifname);
      const ping = startPing(lab, s.nsI, INNER_R);
      try {
        if (!(await within('first reply', () => ping.replies.length > 0, 20_000)))
          return { ms: Number.NaN, switches: Number.NaN };
        const connected = ping.replies[0]!.t;
        await sleep(Math.max(0, connected + watchMs - Date.now()));
        await watch.stop();
        const on = watch.settledOn(s.paths[target]!.endpoint);
        return { ms: on ? Math.max(0, on.t - connected) : NEVER, switches: watch.switches() };
      } finally {
        await ping.stop();
        await watch.stop();
      }
    },
    { policy },
  );
}

async function returnToPreferred(impl: Impl, waitMs: number): Promise<number> {
  return round(impl, [{ delay: 5, dead: true }, { delay: 30 }, { delay: 60 }], async (lab, s) => {
    const ping = startPing(lab, s.nsI, INNER_R);
    try {
      if (!(await within('first reply', () => ping.replies.length > 0, 20_000))) return Number.NaN;
      await sleep(5000);
      await s.paths[0]!.command('both blackhole=0');
      const revived = Date.now();
      const back = await within(
        'the preferred path active',
        async () => (await activeEndpoint(s.initiator.ifname)) === s.paths[0]!.endpoint,
        waitMs,
        100,
      );
      return back ? Date.now() - revived : NEVER;
    } finally {
      await ping.stop();
    }
  });
}

/** "median (min-max, n)" in seconds; "never (in W s)" when no round got there. */
function secs(xs: number[], waitMs: number): string {
  const ok = xs.filter(Number.isFinite);
  if (ok.length === 0) return xs.length ? `never (in ${waitMs / 1000} s)` : 'n/a';
  const s = (x: number) => (x / 1000).toFixed(2);
  const never = xs.filter((x) => x === NEVER).length;
  const range = ok.length > 1 ? ` (${s(Math.min(...ok))}-${s(Math.max(...ok))}, n=${ok.length})` : '';
  return `${s(median(ok))} s${range}${never ? `, never in ${never}` : ''}`;
}

async function repeat<T>(n: number, f: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}

export async function benchSelect(): Promise<Row[]> {
  const missing = ['ip', 'ping', 'wg', 'wireguard-go', 'iptables'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(`select bench skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}`);
    return [];
  }
  const env = Number(process.env['WGM_BENCH_SELECT_ROUNDS']);
  const short = env > 0 ? env : 5;
  const long = env > 0 ? env : 3;
  const rows: Row[] = [];
  // Stock rounds: one each, its outcome follows from the configuration (the last Endpoint only).
  const W1 = 15_000;
  const ft = await repeat(short, () => firstTraffic('wgm-engine', W1));
  const ftStock = await firstTraffic('wireguard-go', W1);
  rows.push({
    what: 'select: first traffic, 2 of 3 candidates dead',
    ours: secs(ft, W1),
    stock: secs([ftStock], W1),
    ratio: 'target 1.5 s',
  });
  const W2 = 20_000;
  const fo = await repeat(short, () => failover('wgm-engine', W2));
  const foStock = await failover('wireguard-go', W2);
  rows.push({
    what: 'select: failover under pings every 50 ms',
    ours: secs(fo, W2),
    stock: secs([foStock], W2),
    ratio: 'target 3 s, aim 1.5 s',
  });
  // Mirroring on and off alternate, so that both see the same load.
  const lostOn: number[] = [];
  const lostOff: number[] = [];
  for (let i = 0; i < short; i++) {
    lostOn.push(await mirroredFailover(true));
    lostOff.push(await mirroredFailover(false));
  }
  rows.push({
    what: 'select: echoes lost in a failover (every 20 ms, 40-55 ms paths)',
    ours: `${counts(lostOn)} mirrored`,
    stock: `${counts(lostOff)} with WGM_MIRROR=off`,
    ratio: 'fewer with mirroring',
  });
  const rf = await repeat(short, () => refusedFailover('wgm-engine', W2));
  const rfStock = await refusedFailover('wireguard-go', W2);
  rows.push({
    what: 'select: failover when the host refuses the active path (iptables)',
    ours: secs(rf, W2),
    stock: secs([rfStock], W2),
    ratio: 'under the 1 s silence window',
  });
  const st = await repeat(long, () => settle('wgm-engine', SETTLE_WATCH_MS));
  const stStock = await settle('wireguard-go', 15_000);
  const sw = st.map((x) => x.switches).filter(Number.isFinite);
  rows.push({
    what: 'select: on the fastest of 60/30/5 ms (slowest first)',
    ours: secs(
      st.map((x) => x.ms),
      SETTLE_WATCH_MS,
    ),
    stock: `${secs([stStock.ms], 15_000)} (its one Endpoint is the fastest)`,
    ratio: 'target 10 s',
  });
  rows.push({
    what: 'select: switches in the first minute (60/30/5 ms)',
    ours: sw.length ? `${median(sw)} (max ${Math.max(...sw)}, n=${sw.length})` : 'n/a',
    stock: `${stStock.switches} in 15 s`,
    ratio: 'at most 2 (each one faster)',
  });
  const pr = await repeat(long, () => settle('wgm-engine', SETTLE_WATCH_MS, 0, 'preference'));
  const prStock = await settle('wireguard-go', 15_000, 0);
  const psw = pr.map((x) => x.switches).filter(Number.isFinite);
  rows.push({
    what: 'select: preference policy, on the first of 60/30/5 ms',
    ours: `${secs(
      pr.map((x) => x.ms),
      SETTLE_WATCH_MS,
    )}; switches in the first minute: ${psw.length ? Math.max(...psw) : 'n/a'} at most`,
    stock: `${secs([prStock.ms], 15_000)} (its one Endpoint is the last)`,
    ratio: 'target 10 s, 0 switches',
  });
  const W4 = 120_000;
  const rp = await repeat(long, () => returnToPreferred('wgm-engine', W4));
  const rpStock = await returnToPreferred('wireguard-go', 20_000);
  rows.push({
    what: 'select: back on a preferred path once it revives',
    ours: secs(rp, W4),
    stock: secs([rpStock], 20_000),
    ratio: 'target 60 s (one upgrade interval)',
  });
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./report.js');
  printTable(await benchSelect());
}
