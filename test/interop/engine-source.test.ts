// Sticky source addresses on a multi-homed wgm-engine (wireguard-go's tests/netns.sh and
// kernel WireGuard's behaviour): side A, wgm-engine, has two addresses on its link, a primary P
// (which routing picks by default) and a secondary S. Its peer B writes to S and speaks first.
//
//   1. After traffic both ways, B still has A at S: A answered from the address B wrote to
//      (without stickiness its packets leave from P and B roams there).
//   2. S is removed from A's link. A's next packets are refused from S, go from P instead, and
//      B roams to P; traffic from A flows within a bounded time.
//
// B is wireguard-go (the reference) or wgm-engine; the outer addresses are IPv4 or IPv6 (two
// global addresses on the link, added without duplicate address detection). The test fails
// against wgm-engine without sticky sources (step 1: B roams to P).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  dumpPeers,
  type Impl,
  Lab,
  ping,
  type Side,
  sleep,
  type Tunnel,
  tunnel,
  waitFor,
} from '../lib/netns.js';
import { need } from '../lib/run.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping'] };

/** How long A's traffic may take to fall over to P once S is gone. */
const FALLOVER_MS = 15_000;

/**
 * A's secondary address, which routing must not pick by default. IPv4: a second address in
 * the primary's subnet. IPv6: Linux breaks ties between two /64 addresses in favour of the
 * newest, so S is added deprecated (preferred_lft 0), which RFC 6724 rule 3 avoids as a source;
 * it still receives, and can be sent from explicitly.
 */
function secondary(n: number, outer: 4 | 6): { addr: string; cidr: string; flags: string[] } {
  return outer === 4
    ? { addr: `192.168.${n}.3`, cidr: `192.168.${n}.3/24`, flags: [] }
    : { addr: `fd00:${n}::3`, cidr: `fd00:${n}::3/64`, flags: ['nodad', 'preferred_lft', '0'] };
}

const hostPort = (addr: string, port: number) =>
  addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;

/** B's endpoint for A, as `wg show dump` prints it. */
function endpointOnB(lab: Lab, t: Tunnel): string {
  return dumpPeers(lab, t.b).get(t.a.key.pub)?.endpoint ?? '(no peer)';
}

/** One ping from `from` through the tunnel, retried until it gets an answer or `ms` pass. */
async function pingsWithin(lab: Lab, from: Side, to: string, ms: number): Promise<void> {
  await waitFor(`a ping from ${from.ifname} to ${to}`, () => ping(lab, from, to, { count: 1 }), ms, 100);
}

const PAIRS: Impl[] = ['wireguard-go', 'wgm-engine'];
let subnet = 243;

for (const implB of PAIRS) {
  for (const outer of [4, 6] as const) {
    const n = subnet++;
    test(`wgm-engine with two addresses (outer IPv${outer}) ↔ ${implB}: replies leave from the address written to; when it goes, traffic falls over`, async (t) => {
      if (!need(t, NEEDS)) return;
      const lab = new Lab('src');
      t.after(() => lab.cleanup());
      const tun = await tunnel(lab, 'wgm-engine', implB, { outer, subnet: n });
      const { a, b } = tun;
      const p = outer === 4 ? a.outer.v4 : a.outer.v6;
      const s = secondary(n, outer);
      lab.ip(a.ns, 'addr', 'add', s.cidr, 'dev', tun.vethA, ...s.flags);
      lab.wg(b.ns, ['set', b.ifname, 'peer', a.key.pub, 'endpoint', hostPort(s.addr, a.port)]);

      // 1. B speaks first (so B initiates), then traffic both ways.
      await pingsWithin(lab, b, a.inner.v4, 10_000);
      assert.ok(ping(lab, b, a.inner.v4, { count: 3 }), 'ping from B');
      assert.ok(ping(lab, a, b.inner.v4, { count: 3 }), 'ping from A');
      assert.ok(ping(lab, a, b.inner.v6, { count: 2 }), 'ping from A, inner IPv6');
      await sleep(300);
      assert.equal(endpointOnB(lab, tun), hostPort(s.addr, a.port), "A's packets all came from S");

      // 2. S goes; A speaks: its packets are refused from S and leave from P instead.
      lab.ip(a.ns, 'addr', 'del', s.cidr, 'dev', tun.vethA);
      await pingsWithin(lab, a, b.inner.v4, FALLOVER_MS);
      assert.equal(endpointOnB(lab, tun), hostPort(p, a.port), 'B roamed to P');
      assert.ok(ping(lab, a, b.inner.v4, { count: 3 }), 'ping from A after the fall-over');
      assert.ok(ping(lab, b, a.inner.v4, { count: 3 }), 'ping from B after the fall-over');
      assert.equal(endpointOnB(lab, tun), hostPort(p, a.port));
    });
  }
}
