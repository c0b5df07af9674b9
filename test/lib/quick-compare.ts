// Comparing a wgm run with a stock wg-quick run (test/lib/quick-sandbox.ts). The normalisation
// removes what legitimately differs between two userspace daemons (or two kernel links) and two
// runs: interface indexes, the random IPv6 link-local address (and its routes and firewall
// rule), address lifetimes, peer order in `wg showconf` (wireguard-go's is random), and in the
// trace the line that creates the link (wg-quick tries the kernel first and prints its error
// and a `[!]` line; wgm says which backend it chose in its own `[!]` line) and the daemon's name.

import assert from 'node:assert/strict';
import type { SandboxRun, Snapshot } from './quick-sandbox.js';

export interface Case {
  name: string;
  config: string;
  /** up fails: the state after it must equal the state before. */
  fails?: boolean;
}

/** The `[#]` lines, without the link creation, with the daemon's and wg's names made neutral. */
export function traceOf(stderr: string, iface: string): string[] {
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

export function normalize(s: Snapshot): Record<string, unknown> {
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

export function compare(wgm: SandboxRun, ref: SandboxRun, c: Case, iface: string): void {
  const ctx = `\n--- wgm stderr:\n${wgm.up.stderr}\n--- wg-quick stderr:\n${ref.up.stderr}`;
  assert.deepEqual(normalize(wgm.before), normalize(ref.before), 'same starting point');
  assert.equal(wgm.up.status === 0, ref.up.status === 0, `up succeeds or fails alike${ctx}`);
  assert.deepEqual(traceOf(wgm.up.stderr, iface), traceOf(ref.up.stderr, iface), `up trace${ctx}`);
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
  assert.deepEqual(traceOf(wgm.down.stderr, iface), traceOf(ref.down.stderr, iface), `down trace${dctx}`);
  assert.equal(wgm.down.stdout, ref.down.stdout, 'hook output of down');
  assert.deepEqual(normalize(wgm.afterDown), normalize(ref.afterDown), `state after down${dctx}`);
  assert.deepEqual(normalize(wgm.afterDown), normalize(wgm.before), 'down returns to the state before up');
}
