// wgm-engine as a process (the contract of wg-quick's WG_QUICK_USERSPACE_IMPLEMENTATION, linux.bash add_if): arguments and usage as wireguard-go has them, the
// socket and the interface existing when the daemonising parent returns, the log format, and
// a clean exit (status 0, socket removed, interface gone) on link deletion, socket removal,
// SIGTERM and SIGINT; a failed start exits 1 and leaves nothing behind.

import assert from 'node:assert/strict';
import { existsSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { test } from 'node:test';
import { parseArgs } from '../../../src/engine/daemon.js';
import { alive, Lab, pidsOf, SOCKET_DIR, sleep, waitFor } from '../../lib/netns.js';
import { need, run, WGM_ENGINE } from '../../lib/run.js';

const engine = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [WGM_ENGINE, ...args], { env: { ...process.env, ...env }, timeoutMs: 20_000 });

test('arguments: wireguard-go rules', () => {
  assert.deepEqual(parseArgs(['wg0']), { foreground: false, ifname: 'wg0' });
  assert.deepEqual(parseArgs(['-f', 'wg0']), { foreground: true, ifname: 'wg0' });
  assert.deepEqual(parseArgs(['--foreground', 'wg0']), { foreground: true, ifname: 'wg0' });
  assert.equal(parseArgs(['--version']), 'version');
  for (const bad of [[], ['-f'], ['--foreground'], ['a', 'b'], ['-f', 'a', 'b'], ['wg0', '-f']])
    assert.equal(parseArgs(bad), 'usage', JSON.stringify(bad));
  assert.equal(parseArgs(['--help']), 'help');
  assert.equal(parseArgs(['-h']), 'help');
});

test('usage text is wireguard-go’s with our name; --version', (t) => {
  const ours = engine([]);
  assert.equal(ours.status, 1);
  assert.equal(ours.stdout, '');
  assert.equal(ours.stderr, 'Usage: wgm-engine [-f/--foreground] INTERFACE-NAME\n');
  if (need(t, { commands: ['wireguard-go'] })) {
    const theirs = run('wireguard-go', ['a', 'b', 'c']);
    assert.equal(ours.stderr, theirs.stdout.replace(/^Usage: \S+/, 'Usage: wgm-engine'));
  }
  const help = engine(['--help']);
  assert.equal(help.status, 0);
  assert.equal(help.stdout, 'Usage: wgm-engine [-f/--foreground] INTERFACE-NAME\n');
  const v = engine(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^wgm-engine v\d+\.\d+\.\d+\n/);
});

test('daemonised: the interface and the socket exist when the parent returns', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'wg'] })) return;
  const lab = new Lab('ed');
  t.after(() => lab.cleanup());
  const ns = lab.netns('d');
  const ifname = lab.ifname();
  const path = `${SOCKET_DIR}/${ifname}.sock`;
  const started = Date.now();
  // Pipes for stdout and stderr: the daemon must not hold them open (LOG_LEVEL unset).
  const r = lab.exec(ns, process.execPath, [WGM_ENGINE, ifname], { timeoutMs: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - started < 15_000, 'the parent returned without waiting for the daemon');
  assert.equal(r.stdout, '');
  const st = lstatSync(path);
  assert.ok(st.isSocket(), 'a unix socket');
  assert.equal(st.mode & 0o777, 0o700);
  assert.equal(statSync(SOCKET_DIR).mode & 0o777, 0o755);
  assert.match(lab.ip(ns, 'link', 'show', ifname), /mtu 1420/);
  assert.equal(lab.exec(ns, 'wg', ['show', ifname, 'listen-port']).status, 0, 'the socket answers');
  const [pid] = pidsOf([ifname]);
  assert.ok(pid !== undefined && alive(pid), 'the daemon runs');
  // Deleting the link stops it; it removes its socket.
  lab.ip(ns, 'link', 'delete', ifname);
  await waitFor('the daemon to exit', () => !alive(pid), 15_000);
  assert.equal(existsSync(path), false, 'socket removed');
});

/** Starts `wgm-engine -f` in a fresh namespace; returns what a stop test needs. */
async function foreground(t: import('node:test').TestContext, env: NodeJS.ProcessEnv = {}) {
  if (!need(t, { root: true, commands: ['ip', 'wg'] })) return undefined;
  const lab = new Lab('ef');
  t.after(() => lab.cleanup());
  const ns = lab.netns('f');
  const d = await lab.daemon('wgm-engine', ns, { env });
  return { lab, ns, d, path: `${SOCKET_DIR}/${d.ifname}.sock` };
}

async function stopsCleanly(s: NonNullable<Awaited<ReturnType<typeof foreground>>>): Promise<void> {
  // Generous for a loaded machine; the stop time itself is a row of `npm run bench`.
  const code = await Promise.race([s.d.exited, sleep(15_000).then(() => 'still running')]);
  assert.equal(code, 0, s.d.output());
  assert.equal(existsSync(s.path), false, 'socket removed');
  assert.equal(s.lab.exec(s.ns, 'ip', ['link', 'show', s.d.ifname]).status === 0, false, 'interface gone');
}

test('foreground: exits 0 when its socket file is removed', async (t) => {
  const s = await foreground(t);
  if (!s) return;
  unlinkSync(s.path);
  await stopsCleanly(s);
});

test('foreground: exits 0 on SIGTERM', async (t) => {
  const s = await foreground(t);
  if (!s) return;
  const [pid] = pidsOf([s.d.ifname]);
  assert.ok(pid);
  process.kill(pid, 'SIGTERM');
  await stopsCleanly(s);
});

test('foreground: exits 0 on SIGINT, and logs in wireguard-go’s format', async (t) => {
  const s = await foreground(t, { LOG_LEVEL: 'verbose' });
  if (!s) return;
  const [pid] = pidsOf([s.d.ifname]);
  assert.ok(pid);
  process.kill(pid, 'SIGINT');
  await stopsCleanly(s);
  const log = s.d.output();
  const stamp = '\\d{4}/\\d{2}/\\d{2} \\d{2}:\\d{2}:\\d{2}';
  assert.match(log, new RegExp(`^DEBUG: \\(${s.d.ifname}\\) ${stamp} Starting wgm-engine version \\d`, 'm'));
  assert.match(log, new RegExp(`^DEBUG: \\(${s.d.ifname}\\) ${stamp} UAPI listener started$`, 'm'));
  assert.match(log, /Shutting down: SIGINT/);
});

test('a log reader that goes away neither kills nor hangs the daemon', async (t) => {
  const s = await foreground(t, { LOG_LEVEL: 'verbose' });
  if (!s) return;
  // Our ends of its stdout and stderr close: every log line now meets EPIPE.
  s.d.proc.stdout?.destroy();
  s.d.proc.stderr?.destroy();
  await sleep(100);
  const r = s.lab.exec(s.ns, 'wg', ['set', s.d.ifname, 'listen-port', '41234'], { timeoutMs: 5000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(s.lab.wg(s.ns, ['show', s.d.ifname, 'listen-port']), '41234\n');
  const [pid] = pidsOf([s.d.ifname]);
  assert.ok(pid);
  process.kill(pid, 'SIGTERM');
  await stopsCleanly(s);
});

test('foreground: exits 0 when the link is deleted', async (t) => {
  const s = await foreground(t);
  if (!s) return;
  s.lab.ip(s.ns, 'link', 'delete', s.d.ifname);
  await stopsCleanly(s);
});

test('foreground: moving the link to another namespace is no reason to stop; deleting it there is', async (t) => {
  const s = await foreground(t, { LOG_LEVEL: 'verbose' });
  if (!s) return;
  const there = s.lab.netns('t');
  s.lab.moveLink(s.ns, s.d.ifname, there);
  await waitFor('the move to be logged', () =>
    s.d.output().includes(`Interface moved to network namespace ${there};`),
  );
  // Renamed and given another MTU there: the engine follows its fd, not its old name.
  s.lab.ip(there, 'link', 'set', s.d.ifname, 'name', `${s.d.ifname}x`.slice(0, 15), 'mtu', '1300');
  await waitFor('the MTU set there to be read', () => s.d.output().includes('MTU updated: 1300'));
  await waitFor('the rename to be logged', () => s.d.output().includes('Interface renamed to '));
  assert.equal(s.d.proc.exitCode, null, s.d.output());
  // `wg` from the birth namespace still configures it.
  s.lab.wg(s.ns, ['set', s.d.ifname, 'listen-port', '41235']);
  assert.equal(s.lab.wg(s.ns, ['show', s.d.ifname, 'listen-port']), '41235\n');
  s.lab.ip(there, 'link', 'delete', `${s.d.ifname}x`.slice(0, 15));
  const code = await Promise.race([s.d.exited, sleep(5000).then(() => 'still running')]);
  assert.equal(code, 0, s.d.output());
  assert.equal(existsSync(s.path), false, 'socket removed');
  assert.match(s.d.output(), /Shutting down: the interface was deleted/);
});

test('a failed start exits 1, says why, and leaves the running daemon alone', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'wg'] })) return;
  const lab = new Lab('ex');
  t.after(() => lab.cleanup());
  const ns = lab.netns('x');
  const bad = lab.exec(ns, process.execPath, [WGM_ENGINE, 'a-name-too-long-for-linux']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^wgm-engine: Failed to create TUN device: invalid interface name/);
  assert.equal(existsSync(`${SOCKET_DIR}/a-name-too-long-for-linux.sock`), false);
  const d = await lab.daemon('wgm-engine', ns);
  // The same name again: the TUN device is busy; the first daemon keeps its socket.
  const again = lab.exec(ns, process.execPath, [WGM_ENGINE, d.ifname]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /Failed to create TUN device: /);
  assert.equal(lab.exec(ns, 'wg', ['show', d.ifname]).status, 0, 'the first daemon still answers');
});
