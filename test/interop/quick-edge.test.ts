// wgm up/down beyond the common path, each in a private world (test/lib/quick-sandbox.ts):
// `wgm down` of an interface stock wg-quick brought up (no record: wg-quick's own rules), a
// SIGTERM in the middle of `up`, the backend overrides and refusals, SaveConfig written back
// by down (compared with stock wg-quick's), down after the engine died, and a config error
// found before anything changes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { stateDifference, stateOfText } from '../../src/config/saved.js';
import { keypair } from '../lib/netns.js';
import { type SandboxRun, type Snapshot, sandboxRun } from '../lib/quick-sandbox.js';
import { need } from '../lib/run.js';

const IFACE = 'wgqe0';
const me = keypair();
const them = keypair();

function config(iface: string[], endpoints = ['192.168.50.1:51821']): string {
  return [
    '[Interface]',
    `PrivateKey = ${me.priv}`,
    'ListenPort = 51820',
    'Address = 10.0.0.5/24, fd00::5/64',
    ...iface,
    '',
    '[Peer]',
    `PublicKey = ${them.pub}`,
    'AllowedIPs = 10.0.7.0/24, 0.0.0.0/0, ::/0',
    ...endpoints.map((e) => `Endpoint = ${e}`),
    '',
  ].join('\n');
}

/** What must come back after a failed up or a down: everything but address lifetimes. */
function essentials(s: Snapshot): string {
  return [
    s['addr']?.replace(/"(valid|preferred)_life_time":[0-9]+/g, ''),
    s['route'],
    s['rule4'],
    s['rule6'],
    (s['iptables'] ?? '').split('\n').filter((l) => l.startsWith('-A ')),
    (s['ip6tables'] ?? '').split('\n').filter((l) => l.startsWith('-A ')),
    s['resolv'],
    s['sockets'],
    s['procs'],
  ].join('\n');
}

function assertBack(r: SandboxRun, after: Snapshot | undefined, what: string): void {
  assert.ok(after, `${what}: a snapshot`);
  assert.equal(essentials(after), essentials(r.before), `${what}: the state before up\n${r.up.stderr}`);
}

function sandbox(t: TestContext): string | undefined {
  if (
    !need(t, { root: true, commands: ['wg-quick', 'wg', 'wireguard-go', 'ip', 'unshare', 'iptables-save'] })
  )
    return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'wgm-qe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const goEnv = { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' };
const dnsHooks = [
  'DNS = 10.0.9.1, example.com',
  'PreDown = echo pre-down %i',
  'PostDown = echo post-down %i',
];

test('wgm down of an interface stock wg-quick brought up does what wg-quick down does', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const conf = config(dnsHooks);
  const ref = sandboxRun('wg-quick', join(dir, 'ref'), IFACE, conf, { env: goEnv });
  const mixed = sandboxRun('wg-quick', join(dir, 'mixed'), IFACE, conf, { env: goEnv, downTool: 'wgm' });
  assert.equal(mixed.up.status, 0, mixed.up.stderr);
  assert.equal(mixed.down?.status, 0, mixed.down?.stderr);
  const trace = (s: string) => s.split('\n').filter((l) => l.startsWith('[#] '));
  assert.deepEqual(trace(mixed.down!.stderr), trace(ref.down!.stderr));
  assert.equal(mixed.down!.stdout, ref.down!.stdout);
  assertBack(mixed, mixed.afterDown, 'after wgm down');
});

test('SIGTERM during up undoes every step, DNS, rules and firewall included', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const r = sandboxRun('wgm', dir, IFACE, config([...dnsHooks, 'PostUp = touch /run/term-now; sleep 60']), {
    termWhen: '/run/term-now',
  });
  assert.equal(r.up.status, 143, r.up.stderr);
  assert.match(r.up.stderr, /interrupted by SIGTERM/);
  assert.match(r.up.stderr, /^\[#\] resolvconf -d wgqe0 -f$/m);
  assert.match(r.up.stderr, /^\[#\] ip link delete dev wgqe0$/m);
  assertBack(r, r.afterUp, 'after the interrupted up');
});

test('WGM_BACKEND=kernel without kernel WireGuard fails and changes nothing', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const r = sandboxRun('wgm', dir, IFACE, config([]), { env: { ...process.env, WGM_BACKEND: 'kernel' } });
  assert.notEqual(r.up.status, 0);
  assert.match(r.up.stderr, /^\[!\] Backend: kernel WireGuard \(WGM_BACKEND=kernel\)$/m);
  assert.match(r.up.stderr, /Unknown device type/);
  assertBack(r, r.afterUp, 'after the failed up');
});

test('WGM_BACKEND=kernel with a multi-endpoint peer is refused before anything changes', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const r = sandboxRun('wgm', dir, IFACE, config([], ['192.168.50.1:51821', '192.168.50.3:51821']), {
    env: { ...process.env, WGM_BACKEND: 'kernel' },
  });
  assert.equal(r.up.status, 1);
  assert.match(r.up.stderr, /^WGM_BACKEND=kernel, but peer \S+ on line \d+ has 2 endpoints/m);
  assert.doesNotMatch(r.up.stderr, /^\[#\]/m, 'no command ran');
  assertBack(r, r.afterUp, 'after the refusal');
});

test('several endpoints with WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go are refused, nothing left', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const r = sandboxRun('wgm', dir, IFACE, config([], ['192.168.50.1:51821', '192.168.50.3:51821']), {
    env: goEnv,
  });
  assert.equal(r.up.status, 1);
  assert.match(r.up.stderr, /^\[!\] Backend: wireguard-go \(peer \S+ on line \d+ has 2 endpoints/m);
  assert.match(r.up.stderr, /Peer \S+ has 2 endpoints, but wgqe0 is run by a userspace daemon/);
  assertBack(r, r.afterUp, 'after the refusal');
});

test('SaveConfig = true: down writes the run-time change back, as wg-quick down does', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const conf = config(['SaveConfig = true']);
  const change = { extra: `wg set ${IFACE} listen-port 51999 && ip addr add 10.0.9.1/24 dev ${IFACE}` };
  const ours = sandboxRun('wgm', join(dir, 'wgm'), IFACE, conf, change);
  const stock = sandboxRun('wg-quick', join(dir, 'stock'), IFACE, conf, { ...change, env: goEnv });
  assert.equal(ours.down?.status, 0, ours.down?.stderr);
  assert.equal(stock.down?.status, 0, stock.down?.stderr);
  assert.match(ours.down!.stderr, new RegExp(`^\\[#\\] wg showconf ${IFACE}$`, 'm'));
  assert.match(ours.configAfter, /^ListenPort = 51999$/m);
  assert.match(ours.configAfter, /10\.0\.9\.1\/24/);
  // The same state as the file stock wg-quick wrote (each run's link gets its own random
  // link-local address, which both save); and wgm kept the file's own layout.
  const state = (text: string) => {
    const st = stateOfText(text);
    return { ...st, addresses: st.addresses.filter((a) => !a.startsWith('fe80:')) };
  };
  assert.equal(
    stateDifference(state(ours.configAfter), state(stock.configAfter)),
    undefined,
    `wgm:\n${ours.configAfter}\nwg-quick:\n${stock.configAfter}`,
  );
  assert.ok(ours.configAfter.startsWith('[Interface]\nPrivateKey = '), ours.configAfter);
  assertBack(ours, ours.afterDown, 'after down');
});

test('down after the engine died undoes the rules, DNS and firewall up left (wg-quick cannot)', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const conf = config(['DNS = 10.0.0.53']);
  const r = sandboxRun('wgm', dir, IFACE, conf, {
    extra: `pkill -KILL -f -- 'wgm-engine(\\.js)? (-f )?${IFACE}$'; sleep 1; ip link show ${IFACE} || echo link-gone`,
  });
  assert.match(r.extra, /link-gone/, 'the engine took its link with it');
  assert.equal(r.down?.status, 0, r.down?.stderr);
  assert.match(r.down!.stderr, /^\[!\] wgqe0 is gone already/m);
  assertBack(r, r.afterDown, 'after down');
});

test('an error in the WireGuard part is reported with its line before anything changes', (t) => {
  const dir = sandbox(t);
  if (!dir) return;
  const r = sandboxRun('wgm', dir, IFACE, config(['PostUp = echo up', 'ListenPort = x']));
  assert.equal(r.up.status, 1);
  assert.match(r.up.stderr, /wgqe0\.conf:6: /);
  assert.doesNotMatch(r.up.stderr, /^\[#\]/m, 'no command ran');
  assertBack(r, r.afterUp, 'after the error');
});
