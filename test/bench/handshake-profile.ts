// The handshake part of the engine bench on its own, for profiling the responder: a wgm-engine
// pair and a wireguard-go pair (test/lib/netns.ts), HANDSHAKE_PEERS initiators (engine-handshake-client.ts,
// real Cores) against each pair's B side, rounds alternating between the pairs so that noise hits
// both. Prints each round (handshakes/s and the responder's CPU seconds per handshake), then
// the medians and their ratio.
//
//   node <build>/test/bench/handshake-profile.js [seconds] [rounds] [--prof DIR] [--one-source]
//        [--client FILE]
//
// --prof DIR profiles the wgm-engine daemons (node 20 refuses --cpu-prof in NODE_OPTIONS, so a
// preload module drives node:inspector instead): each thread writes a .cpuprofile to DIR when
// it exits or at the end of the rounds, whichever comes first, and the responder's busiest
// functions are printed. --one-source sends from one address instead of one address per
// initiator (test/bench/engine.ts uses one per initiator). --client FILE runs another build's
// engine-handshake-client.js: its Cores do the initiators' crypto, so two responder builds
// compare fairest with one client. Run as root; never asserted.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, tunnel } from '../lib/netns.js';
import { cpuTimes } from '../lib/proc.js';
import { which } from '../lib/run.js';
import {
  type ClientOptions,
  type Initiators,
  prepareInitiators,
  runInitiators,
} from './handshake-initiators.js';
import { median } from './report.js';

interface RoundResult {
  rate: number;
  cpuPerHandshakeMs: number;
  /** The part of it spent in the kernel. */
  sysPerHandshakeMs: number;
  /** The client's CPU seconds per second of the round (1: it used a whole core). */
  clientLoad: number;
  /** Cookie replies the client received (the responder was under load). */
  cookies: number;
  /** Initiations the client sent again after a second without an answer. */
  retries: number;
}

function round(lab: Lab, r: Initiators, opts: ClientOptions): RoundResult {
  const pid = r.t.b.d.proc.pid!;
  const c0 = cpuTimes(pid);
  const j = runInitiators(lab, r, opts);
  const c1 = cpuTimes(pid);
  const used = c1.user + c1.sys - c0.user - c0.sys;
  return {
    rate: j.handshakes / j.seconds,
    cpuPerHandshakeMs: (used * 1000) / Math.max(1, j.handshakes),
    sysPerHandshakeMs: ((c1.sys - c0.sys) * 1000) / Math.max(1, j.handshakes),
    clientLoad: j.cpu / j.seconds,
    cookies: j.cookies,
    retries: j.retries,
  };
}

// Loaded with --import into each daemon thread: profiles it from the start and writes the
// profile after PROF_MS, or at exit if that comes first.
const PRELOAD = `
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
const s = new Session();
s.connect();
s.post('Profiler.enable');
s.post('Profiler.setSamplingInterval', { interval: 200 });
s.post('Profiler.start');
let done = false;
function write() {
  if (done) return;
  done = true;
  s.post('Profiler.stop', (err, r) => {
    if (!err) writeFileSync(process.env.PROF_DIR + '/' + process.pid + '-' + threadId + '.cpuprofile', JSON.stringify(r.profile));
  });
}
setTimeout(write, Number(process.env.PROF_MS)).unref();
process.on('exit', write);
`;

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** The `n` functions with the most self time in a .cpuprofile, as printable lines. */
function topSelfTime(file: string, n: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const name = new Map<number, string>();
  for (const { id, callFrame: f } of p.nodes) {
    const where = f.url ? ` ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '';
    name.set(id, `${f.functionName || '(anonymous)'}${where}`);
  }
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const k = name.get(id) ?? '?';
    self.set(k, (self.get(k) ?? 0) + dt);
  });
  // A worker blocked in poll(2) (sys/native.ts `wait`) is idle too, though inside a call.
  const idle = (k: string) => k === '(idle)' || k.startsWith('wait sys/native.');
  const busy = total - [...self].reduce((n, [k, us]) => (idle(k) ? n + us : n), 0);
  if (busy < total * 0.05) return [];
  const rows = [...self].filter(([k]) => !idle(k)).sort((a, b) => b[1] - a[1]);
  return [
    `busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s`,
    ...rows
      .slice(0, n)
      .map(
        ([k, us]) =>
          `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`,
      ),
  ];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    return argv.splice(i, name === '--one-source' ? 1 : 2)[1] ?? '';
  };
  const profDir = flag('--prof');
  const oneSource = flag('--one-source') !== undefined;
  const client = flag('--client');
  const seconds = Number(argv[0] ?? 5);
  const rounds = Number(argv[1] ?? 3);
  const missing = ['ip', 'wg', 'wireguard-go'].filter((c) => !which(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.error(
      `handshake profile skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}`,
    );
    return;
  }
  const lab = new Lab('hp');
  let responderPid: number | undefined;
  try {
    // Time to start both pairs and run every round, with room to spare.
    const profMs = 15_000 + rounds * 2 * (seconds + 2) * 1000;
    const env = profDir
      ? {
          NODE_OPTIONS: `--import ${lab.file('prof-preload.mjs', PRELOAD)} ${process.env['NODE_OPTIONS'] ?? ''}`,
          PROF_DIR: profDir,
          PROF_MS: String(profMs),
        }
      : undefined;
    const ours = prepareInitiators(lab, await tunnel(lab, 'wgm-engine', 'wgm-engine', { subnet: 233, env }));
    const stock = prepareInitiators(lab, await tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 234 }));
    const o: RoundResult[] = [];
    const s: RoundResult[] = [];
    for (let i = 0; i < rounds; i++) {
      o.push(round(lab, ours, { seconds, oneSource, client }));
      s.push(round(lab, stock, { seconds, oneSource, client }));
      const [a, b] = [o[i]!, s[i]!];
      const side = (x: RoundResult) =>
        `${x.rate.toFixed(0)}/s (${x.cpuPerHandshakeMs.toFixed(2)} ms CPU each, ${x.sysPerHandshakeMs.toFixed(2)} in the kernel, client load ${x.clientLoad.toFixed(2)}, ${x.cookies} cookies, ${x.retries} retries)`;
      console.log(
        `round ${i + 1}: wgm-engine ${side(a)}, wireguard-go ${side(b)}, ratio ${(a.rate / b.rate).toFixed(2)}`,
      );
    }
    const mo = median(o.map((x) => x.rate));
    const ms = median(s.map((x) => x.rate));
    const ratios = o.map((x, i) => x.rate / s[i]!.rate);
    console.log(
      `median: wgm-engine ${mo.toFixed(0)}/s, wireguard-go ${ms.toFixed(0)}/s, ` +
        `ratio of medians ${(mo / ms).toFixed(2)}, median of round ratios ${median(ratios).toFixed(2)}; ` +
        `CPU per handshake ${median(o.map((x) => x.cpuPerHandshakeMs)).toFixed(2)} ms vs ` +
        `${median(s.map((x) => x.cpuPerHandshakeMs)).toFixed(2)} ms`,
    );
    responderPid = ours.t.b.d.proc.pid;
  } finally {
    await lab.cleanup();
  }
  // Each thread of the responder wrote its profile when it exited (at cleanup).
  if (profDir && responderPid !== undefined && existsSync(profDir)) {
    for (const f of readdirSync(profDir)
      .filter((f) => f.startsWith(`${responderPid}-`))
      .sort()) {
      const lines = topSelfTime(join(profDir, f), 25);
      if (lines.length > 0)
        console.log(`\nresponder thread ${f} (self time, share of busy time):\n${lines.join('\n')}`);
    }
  }
}

await main();
