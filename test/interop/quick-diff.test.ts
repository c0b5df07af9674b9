// wgm up/down against stock wg-quick up/down (the oracle), each in a fresh private world
// (test/lib/quick-sandbox.ts): for every config of the corpus the state after `up`, after
// `down` (which must be the state before `up`) and for failures the state after the failed
// `up` must be the same, and so must the `[#]` trace lines and the exit status. wg-quick runs
// wireguard-go (the kernel here has no WireGuard); wgm runs wgm-engine, so the normalisation
// below removes what legitimately differs between two userspace daemons and two runs:
// interface indexes, the random IPv6 link-local address (and its routes), address lifetimes,
// peer order in `wg showconf` (wireguard-go's is random), and in the trace the line that
// creates the link (wg-quick tries the kernel first and prints its error and a `[!]` line;
// wgm says which backend it chose in its own `[!]` line) and the daemon's name.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keypair } from '../lib/netns.js';
import { type SandboxRun, type Snapshot, sandboxRun } from '../lib/quick-sandbox.js';
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

interface Case {
  name: string;
  config: string;
  /** up fails: the state after it must equal the state before. */
  fails?: boolean;
}

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

/** The `[#]` lines, without the link creation, with the daemon's and wg's names made neutral. */
export function traceOf(stderr: string, iface = IFACE): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('[#] '))
    .filter((l) => !l.startsWith(`[#] ip link add ${iface} type wireguard`))
    .map((l) =>
      l
        .replace(new RegExp(`^\\[#\\] (wireguard-go|wgm-engine) ${iface}$`), `[#] <daemon> ${iface}`)
        .replace(/^\[#\] wgm (setconf|set) /, '[#] wg $1 '),
    );
}

interface AddrInfo {
  family: string;
  local: string;
  [k: string]: unknown;
}

function normalize(s: Snapshot): Record<string, unknown> {
  const links = (JSON.parse(s['addr'] || '[]') as Record<string, unknown>[]).map((l) => ({
    ifname: l['ifname'],
    flags: l['flags'],
    mtu: l['mtu'],
    operstate: l['operstate'],
    addrs: ((l['addr_info'] as AddrInfo[]) ?? [])
      .filter((a) => !a.local.startsWith('fe80:'))
      .map(({ valid_life_time: _v, preferred_life_time: _p, ...rest }) => rest),
  }));
  const routes = (JSON.parse(s['route'] || '[]') as Record<string, unknown>[]).filter(
    (r) => !String(r['dst']).startsWith('fe80:'),
  );
  return {
    links,
    routes,
    rule4: JSON.parse(s['rule4'] || '[]'),
    rule6: JSON.parse(s['rule6'] || '[]'),
    // Rules only: a table iptables-restore created stays listed (empty) after its rules go,
    // after wg-quick's down as after wgm's.
    iptables: rulesOnly(s['iptables']),
    ip6tables: rulesOnly(s['ip6tables']),
    resolv: s['resolv'],
    showconf: sortPeers(s['showconf'] ?? ''),
    sockets: s['sockets'],
    procs: s['procs'],
  };
}

function rulesOnly(text: string | undefined): string[] {
  // The anti-spoofing rules name every address, the random link-local one too.
  return (text ?? '')
    .split('\n')
    .filter((l) => l.startsWith('-A '))
    .map((l) => l.replace(/fe80::[0-9a-f:]+/g, 'fe80::(link-local)'));
}

/** `wg showconf` with its [Peer] blocks in a fixed order. */
function sortPeers(text: string): string {
  const [head, ...peers] = text.split(/\n(?=\[Peer\])/);
  return [head, ...peers.map((p) => p.trim()).sort()].join('\n');
}

function compare(wgm: SandboxRun, ref: SandboxRun, c: Case): void {
  const ctx = `\n--- wgm stderr:\n${wgm.up.stderr}\n--- wg-quick stderr:\n${ref.up.stderr}`;
  assert.deepEqual(normalize(wgm.before), normalize(ref.before), 'same starting point');
  assert.equal(wgm.up.status === 0, ref.up.status === 0, `up succeeds or fails alike${ctx}`);
  assert.deepEqual(traceOf(wgm.up.stderr), traceOf(ref.up.stderr), `up trace${ctx}`);
  assert.equal(wgm.up.stdout, ref.up.stdout, 'hook output');
  assert.deepEqual(normalize(wgm.afterUp), normalize(ref.afterUp), `state after up${ctx}`);
  if (c.fails) {
    assert.notEqual(wgm.up.status, 0);
    assert.deepEqual(normalize(wgm.afterUp), normalize(wgm.before), 'a failed up leaves nothing behind');
    return;
  }
  assert.ok(wgm.down && ref.down && wgm.afterDown && ref.afterDown, 'down ran');
  const dctx = `\n--- wgm down stderr:\n${wgm.down.stderr}\n--- wg-quick down stderr:\n${ref.down.stderr}`;
  assert.equal(wgm.down.status, 0, `wgm down${dctx}`);
  assert.equal(ref.down.status, 0, `wg-quick down${dctx}`);
  assert.deepEqual(traceOf(wgm.down.stderr), traceOf(ref.down.stderr), `down trace${dctx}`);
  assert.equal(wgm.down.stdout, ref.down.stdout, 'hook output of down');
  assert.deepEqual(normalize(wgm.afterDown), normalize(ref.afterDown), `state after down${dctx}`);
  assert.deepEqual(normalize(wgm.afterDown), normalize(wgm.before), 'down returns to the state before up');
}

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
    compare(wgm, ref, c);
  });
}
