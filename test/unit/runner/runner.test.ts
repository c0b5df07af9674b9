// The test runner of `npm test` (test/runner/main.ts), run on test files written here: counts
// and reasons in the summary, the plain last line, the exit status, failure details kept in the
// output, and a hung file killed at its bound with the processes it left behind (one detached,
// one in a session of its own) and, as root, the network namespace it made.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BUILD, isRoot, which } from '../../lib/run.js';

const RUNNER = join(BUILD, 'test/runner/main.js');

// CommonJS fixtures: the temp dir has no package.json saying "module".
const PASSING = `
const { test, describe } = require('node:test');
test('adds', () => {});
test('needs a thing', (t) => { t.skip('needs a thing the host lacks'); });
test('skipped up front', { skip: 'not on this host' }, () => {});
describe('group', () => { test('inner one', () => {}); test('inner two', () => {}); });
`;
const FAILING = `
const { test } = require('node:test');
test('compares', () => { throw new Error('expected 3, got 4: the detail a reader needs'); });
test('passes anyway', () => {});
`;
const CRASHING = `throw new Error('broken at load time');\n`;

function hanging(dir: string, netns: string | undefined): string {
  return `
const { test } = require('node:test');
const { spawn, execFileSync } = require('node:child_process');
const { writeFileSync } = require('node:fs');
test('hangs', { timeout: 3600000 }, async () => {
  const pids = [];
  const d = spawn('sleep', ['3600'], { detached: true, stdio: 'ignore' });
  d.unref();
  pids.push(d.pid);
  const s = spawn('setsid', ['-f', 'sleep', '3601'], { stdio: 'ignore' });
  ${
    netns
      ? `execFileSync('ip', ['netns', 'add', '${netns}']);
  const n = spawn('ip', ['netns', 'exec', '${netns}', 'sleep', '3602'], { detached: true, stdio: 'ignore' });
  n.unref();
  pids.push(n.pid);`
      : ''
  }
  writeFileSync(${JSON.stringify(join(dir, 'pids'))}, pids.join(' '));
  await new Promise(() => setInterval(() => {}, 1000));
});
`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** Runs the runner in `dir` on `path` (relative to it; the summary names files that way). */
function runner(dir: string, args: string[], path = '.') {
  const r = spawnSync(process.execPath, [RUNNER, ...args, path], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.error, undefined);
  return r;
}

test('runner: counts, skip reasons, failure details, last line and status', { timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a-pass.test.js'), PASSING);
  writeFileSync(join(dir, 'b-fail.test.js'), FAILING);
  writeFileSync(join(dir, 'c-crash.test.js'), CRASHING);
  writeFileSync(join(dir, 'helper.js'), 'throw new Error("a helper is not a test file");\n');
  const r = runner(dir, ['--file-timeout', '60']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.at(-1), '4 passed, 2 failed, 2 skipped');
  assert.match(r.stdout, /^ {2}a-pass\.test\.js › needs a thing: needs a thing the host lacks$/m);
  assert.match(r.stdout, /^ {2}a-pass\.test\.js › skipped up front: not on this host$/m);
  assert.match(r.stdout, /^ {2}b-fail\.test\.js › compares: expected 3, got 4: the detail a reader needs$/m);
  assert.match(r.stdout, /broken at load time/);
  assert.match(r.stdout, /^tests 8 ran: 4 passed, 2 failed, 2 skipped, 0 todo$/m);
  // node's own spec output, with the failure's stack, stays in the output.
  assert.match(r.stdout, /✖ compares[\s\S]*at TestContext/);
  assert.doesNotMatch(r.stdout, /a helper is not a test file/);

  const ok = runner(dir, [], 'a-pass.test.js');
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal(ok.stdout.trimEnd().split('\n').at(-1), '3 passed, 0 failed, 2 skipped');
});

test('runner: a hung file is killed at its bound with what it started', { timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const netns = isRoot && which('ip') ? `wgmrun${process.pid % 100000}` : undefined;
  t.after(() => {
    if (netns && existsSync(`/run/netns/${netns}`)) spawnSync('ip', ['netns', 'delete', netns]);
  });
  writeFileSync(join(dir, 'hang.test.js'), hanging(dir, netns));
  writeFileSync(join(dir, 'later.test.js'), PASSING);
  const started = Date.now();
  const r = runner(dir, ['--file-timeout', '8']);
  const tookS = (Date.now() - started) / 1000;
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.ok(tookS < 60, `the run took ${tookS} s with an 8 s bound`);
  assert.match(r.stdout, /hang\.test\.js: still running after \d+ s \(the per-file bound\); killing it/);
  assert.match(
    r.stdout,
    /^ {2}hang\.test\.js: killed after \d+ s \(the per-file bound\); killed \d+ process/m,
  );
  // The next file still runs.
  assert.equal(r.stdout.trimEnd().split('\n').at(-1), '3 passed, 1 failed, 2 skipped');
  assert.ok(existsSync(join(dir, 'pids')), `the hung file never started its processes:\n${r.stdout}`);
  const pids = readFileSync(join(dir, 'pids'), 'utf8').trim().split(' ').map(Number);
  for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} outlived the kill`);
  const setsidSleeper = spawnSync('pgrep', ['-f', '^sleep 3601$']).stdout.toString().trim();
  assert.equal(setsidSleeper, '', `the setsid sleeper outlived the kill: ${setsidSleeper}`);
  if (netns) {
    assert.equal(existsSync(`/run/netns/${netns}`), false, `namespace ${netns} was left`);
    assert.match(r.stdout, new RegExp(`deleted namespace\\(s\\) ${netns}`));
  } else t.diagnostic('not root: the namespace part was not checked');
});

test('runner: the overall bound stops the run and the rest does not start', { timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a-hang.test.js'), hanging(dir, undefined));
  writeFileSync(join(dir, 'b-later.test.js'), PASSING);
  const r = runner(dir, ['--file-timeout', '600', '--total-timeout', '6']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /a-hang\.test\.js: killed after \d+ s \(the overall bound\)/);
  assert.match(r.stdout, /b-later\.test\.js: not run \(the overall bound had passed\)/);
  assert.equal(r.stdout.trimEnd().split('\n').at(-1), '0 passed, 2 failed, 0 skipped');
});

test('runner: SIGTERM to the runner ends the running file and what it started', {
  timeout: 120_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hang.test.js'), hanging(dir, undefined));
  const child = spawn(process.execPath, [RUNNER, '.'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const pidsFile = join(dir, 'pids');
  for (let i = 0; i < 600 && !existsSync(pidsFile); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(pidsFile), `the hung file never started its processes:\n${out}`);
  const pids = readFileSync(pidsFile, 'utf8').trim().split(' ').map(Number);
  child.kill('SIGTERM');
  assert.equal(await exited, 143, out);
  assert.match(out, /test runner: SIGTERM; stopping/);
  for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} outlived the runner`);
});

test('runner: a bad bound is refused with its name', () => {
  const r = spawnSync(process.execPath, [RUNNER, '--file-timeout', 'soon', '.'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--file-timeout: expected a number of seconds > 0, got 'soon'/);
});
