// wgm up/down against stock wg-quick up/down (the oracle), each in a fresh private world
// (test/lib/quick-sandbox.ts): for every config of the corpus the state after `up`, after
// `down` (which must be the state before `up`) and for failures the state after the failed
// `up` must be the same, and so must the `[#]` trace lines and the exit status. wg-quick runs
// wireguard-go (the kernel here has no WireGuard); wgm runs wgm-engine (test/lib/quick-compare.ts
// says what the comparison leaves out). test/interop/quick-vm.test.ts does the same on kernel
// WireGuard.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keypair } from '../lib/netns.js';
import { type Case, compare } from '../lib/quick-compare.js';
import { sandboxRun } from '../lib/quick-sandbox.js';
import { need } from '../lib/run.js';

const IFACE = 'wgqd0';
const me = keypair();
const p1 = keypair();
const p2 = keypair();

const base = (iface: string[], peers: string[][]) =>
  [
    '[Interface]',
    `PrivateKey = ${me.priv}`,
    'ListenPort = 51820',
    ...iface,
    ...peers.flatMap((p, i) => ['', '[Peer]', `PublicKey = ${[p1, p2][i]!.pub}`, ...p]),
    '',
  ].join('\n');

const peerA = ['AllowedIPs = 10.0.0.1/32, 10.0.7.0/24', 'Endpoint = 192.168.50.1:51821'];

const CASES: Case[] = [
  {
    name: 'addresses v4/v6, automatic MTU, routes in main',
    config: base(['Address = 10.0.0.5/24, fd00::5/64', 'Address = 10.0.5.5'], [peerA]),
  },
  {
    name: 'MTU and Table = off',
    config: base(['Address = 10.0.0.5/24', 'MTU = 1380', 'Table = off'], [peerA]),
  },
  {
    name: 'Table = 1234 with a default route',
    config: base(
      ['Address = 10.0.0.5/24', 'Table = 1234'],
      [peerA, ['AllowedIPs = 0.0.0.0/0, ::/0', 'Endpoint = [fd50::1]:51822']],
    ),
  },
  {
    name: 'default route for both families: fwmark, rules, firewall marks',
    config: base(
      ['Address = 10.0.0.5/24, fd00::5/64'],
      [peerA, ['AllowedIPs = 0.0.0.0/0, ::/0', 'Endpoint = 192.168.50.3:51822']],
    ),
  },
  {
    name: 'DNS servers and search domains through resolvconf',
    config: base(
      ['Address = 10.0.0.5/24', 'DNS = 10.0.9.1, fd00::53, example.com, 1.1.1.1,corp.internal'],
      [peerA],
    ),
  },
  {
    name: 'hooks with %i',
    config: base(
      [
        'Address = 10.0.0.5/24',
        'PreUp = echo "pre-up %i"',
        'PostUp = echo post-up %i; echo second %i',
        'PreDown = echo pre-down %i',
        'PostDown = echo post-down %i',
      ],
      [peerA],
    ),
  },
  { name: 'failure: a bad address', config: base(['Address = 10.0.0.5/24, bogus'], [peerA]), fails: true },
  {
    name: 'failure: PostUp fails after DNS, default route and firewall',
    config: base(
      ['Address = 10.0.0.5/24', 'DNS = 10.0.9.1', 'PostUp = false'],
      [['AllowedIPs = 0.0.0.0/0', 'Endpoint = 192.168.50.1:51821']],
    ),
    fails: true,
  },
];

for (const c of CASES) {
  test(`wgm up/down matches wg-quick: ${c.name}`, (t) => {
    if (
      !need(t, { root: true, commands: ['wg-quick', 'wg', 'wireguard-go', 'ip', 'unshare', 'iptables-save'] })
    )
      return;
    const dir = mkdtempSync(join(tmpdir(), 'wgm-qd-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ref = sandboxRun('wg-quick', dir, IFACE, c.config, {
      env: { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' },
    });
    const wgm = sandboxRun('wgm', dir, IFACE, c.config);
    assert.match(wgm.up.stderr, /^\[!\] Backend: wgm-engine \(no kernel WireGuard: /m, 'the choice is said');
    compare(wgm, ref, c, IFACE);
  });
}
