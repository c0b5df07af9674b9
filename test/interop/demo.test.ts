// `npm run demo` (scripts/demo.sh) run for real: its exit status, the lines of its story, and
// that it leaves nothing behind, both when it runs to the end and when it is interrupted
// midway (SIGINT to its process group, as Ctrl-C in a terminal sends).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { ROOT, run, which } from '../lib/run.js';

const SCRIPT = join(ROOT, 'scripts/demo.sh');

interface Outcome {
  status: number | null;
  signal: string | null;
  out: string;
  pid: number;
}

/** Runs the demo in its own process group; `signal` goes to the group once `interrupt` appears. */
function demo(timeoutMs: number, interrupt?: string, signal: NodeJS.Signals = 'SIGINT'): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid === undefined) return reject(new Error('could not start scripts/demo.sh'));
    let out = '';
    let sent = false;
    const take = (d: Buffer): void => {
      out += d.toString();
      if (interrupt && !sent && out.includes(interrupt)) {
        sent = true;
        process.kill(-pid, signal);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => process.kill(-pid, 'SIGKILL'), timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, out, pid });
    });
  });
}

/** What the demo run `pid` could have left: namespaces, sockets, records, processes, temp dir. */
function leftovers(o: Outcome): string[] {
  const left: string[] = [];
  const ns = run('ip', ['netns', 'list']).stdout;
  for (const side of ['a', 'b'])
    if (new RegExp(`^wgmdemo-${side}-${o.pid}\\b`, 'm').test(ns)) left.push(`namespace ${side}`);
  for (const side of ['a', 'b']) {
    const ifname = `wgmd${side}${o.pid}`.slice(0, 15);
    for (const f of [`/var/run/wireguard/${ifname}.sock`, `/run/wgm/${ifname}.json`])
      if (existsSync(f)) left.push(f);
    if (run('pgrep', ['-f', `wgm-engine.js (-f )?${ifname}$`]).status === 0)
      left.push(`wgm-engine for ${ifname}`);
    if (run('ip', ['link', 'show', ifname]).status === 0) left.push(`link ${ifname}`);
  }
  const tmp = /configs in (\S+), mode 0600/.exec(o.out)?.[1];
  if (tmp && existsSync(tmp)) left.push(tmp);
  if (run('pgrep', ['-f', `${ROOT}/(scripts/demo-probe.mjs|dist/test/lib/relay-main.js)`]).status === 0)
    left.push('a prober, echo or relay process of a demo');
  return left;
}

function needRoot(t: TestContext): boolean {
  if (process.getuid?.() !== 0) {
    t.skip('needs root (network namespaces, TUN devices)');
    return false;
  }
  for (const c of ['ip', 'pgrep'])
    if (!which(c)) {
      t.skip(`needs \`${c}'`);
      return false;
    }
  return true;
}

test('npm run demo: the story, a path cut survived, and nothing left behind', async (t) => {
  if (!needRoot(t)) return;
  const o = await demo(170_000);
  assert.deepEqual(leftovers(o), [], o.out);
  assert.equal(o.status, 0, o.out);
  for (const line of [
    /wgm strip .*\n(.*\n)*\s+Endpoint = 10\.201\.0\.2:51820\n\s+Endpoint = \[fd00:202::2\]:51820\n\s+Endpoint = 10\.203\.0\.2:51999/,
    /\[!\] Backend: wgm-engine \(peer \S+ on line \d+ has 3 endpoints/,
    /\[#\] ip -4 address add 10\.77\.0\.1\/24 dev wgmda/,
    /first reply after [\d.]+ ms/,
    /candidate: (10\.201\.0\.2:51820|\[fd00:202::2\]:51820|10\.203\.0\.2:51999) \(active/,
    /candidate: \[fd00:202::2\]:51820/,
    /candidate: 10\.203\.0\.2:51999/,
    /cutting: ip -n wgmdemo-b-\d+ link set wd[lvr]b\d+ down/,
    /traffic flows again [\d.]+ s after the cut/,
    /\[#\] ip link delete dev wgmda/,
    /\[#\] ip link delete dev wgmdb/,
    /^nothing left behind/m,
  ])
    assert.match(o.out, line);
  // Which path is active first is selection's choice (lowest latency, config order breaking
  // near-ties); after the cut, the active candidate is another one than the cut path.
  const moved = /now via (\S+) \(was (\S+)\)/.exec(o.out);
  assert.ok(moved, o.out);
  assert.notEqual(moved[1], moved[2], o.out);
  const after = o.out.slice(o.out.indexOf('after the cut\n'));
  assert.ok(after.includes(`candidate: ${moved[1]} (active`), o.out);
  assert.doesNotMatch(o.out, /PrivateKey = /, 'no private key printed');
});

test('npm run demo interrupted midway (Ctrl-C): cleaned up, exit status 130', async (t) => {
  if (!needRoot(t)) return;
  const o = await demo(60_000, '== 3. traffic');
  assert.deepEqual(leftovers(o), [], o.out);
  assert.equal(o.status, 130, o.out);
  assert.match(o.out, /^nothing left behind/m);
  assert.doesNotMatch(o.out, /== 5\./, 'it stopped where it was interrupted');
});

test('npm run demo terminated during wgm up: cleaned up, exit status 143', async (t) => {
  if (!needRoot(t)) return;
  // SIGTERM to the whole group, while side A's `wgm up` runs: wgm up, the engine it may have
  // started and the relay all get it, and the demo's trap still has to undo everything.
  const o = await demo(60_000, 'side A: ip netns exec', 'SIGTERM');
  assert.deepEqual(leftovers(o), [], o.out);
  assert.equal(o.status, 143, o.out);
  assert.match(o.out, /^nothing left behind/m);
});
