// A jumbo-MTU tunnel: veth links of MTU 9000, WireGuard interfaces of 8920 (wg-quick's rule,
// link MTU − 80, wg-quick linux.bash set_mtu_up), wgm-engine against itself and against stock wireguard-go.
// 8800-byte pings with DF both ways over IPv4 and IPv6 inner addresses; nothing is fragmented,
// neither inside the tunnel nor outside (the namespaces' reassembly counters stay at zero);
// one byte over the interface MTU is refused locally; iperf3 carries TCP both ways with the
// MSS a 8920-byte MTU gives; a TCP stream's SHA-256 matches at the far end both ways. With
// the engine's offloads on (TSO super-packets of 8920-byte segments), and for some pairs off,
// and for some in the data-plane layout this host does not get by default (WGM_DATAPLANE).

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type Layout, layoutEnv } from '../lib/dataplane-layout.js';
import { type Impl, Lab, ping, type Side, snmp, tunnel } from '../lib/netns.js';
import { need } from '../lib/run.js';
import { spawnReady, tcp } from '../lib/tunnel-traffic.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping', 'iperf3'] };
const LINK_MTU = 9000;
/** wg-quick: the link MTU less 80 (the largest overhead: IPv6 + UDP + WireGuard). */
const TUNNEL_MTU = LINK_MTU - 80;
/** ICMP echo payload: 8828-byte IPv4 and 8848-byte IPv6 packets, under the tunnel MTU. */
const PING_SIZE = 8800;
const IPERF_SECONDS = 2;

/** Pair, outer family, engine offloads (WGM_OFFLOAD), data-plane layout (WGM_DATAPLANE). */
const RUNS: [Impl, Impl, 4 | 6, 'on' | 'off', Layout][] = [
  ['wgm-engine', 'wgm-engine', 4, 'on', 'default'],
  ['wgm-engine', 'wgm-engine', 6, 'on', 'default'],
  ['wgm-engine', 'wireguard-go', 4, 'on', 'default'],
  ['wgm-engine', 'wireguard-go', 6, 'on', 'default'],
  ['wireguard-go', 'wgm-engine', 4, 'on', 'default'],
  ['wireguard-go', 'wgm-engine', 6, 'on', 'default'],
  ['wgm-engine', 'wgm-engine', 4, 'off', 'default'],
  ['wireguard-go', 'wgm-engine', 6, 'off', 'default'],
  ['wgm-engine', 'wgm-engine', 6, 'on', 'other'],
  ['wgm-engine', 'wireguard-go', 4, 'on', 'other'],
];

/** IPv4 + IPv6 reassembly requests a namespace has seen (fragments that arrived). */
function reassemblies(lab: Lab, ns: string): number {
  return snmp(lab, ns, 'Ip', 'ReasmReqds') + snmp(lab, ns, 'Ip6', 'Ip6ReasmReqds');
}

interface Iperf {
  bytes: number;
  mbits: number;
  mss: number;
}

/** iperf3 for IPERF_SECONDS from `client` to `server` (reverse: the server sends). */
async function iperf(lab: Lab, client: Side, server: Side, reverse: boolean): Promise<Iperf> {
  const args = ['-s', '-1', '--forceflush', '-B', server.inner.v4];
  await spawnReady(lab, server.ns, 'iperf3', args, 'listening', 'iperf3 server to listen');
  const r = lab.exec(
    client.ns,
    'iperf3',
    ['-c', server.inner.v4, '-t', String(IPERF_SECONDS), '-J', ...(reverse ? ['-R'] : [])],
    { timeoutMs: (IPERF_SECONDS + 30) * 1000 },
  );
  assert.equal(r.status, 0, `iperf3: ${r.stdout.slice(0, 2000)} ${r.stderr}`);
  const j = JSON.parse(r.stdout) as {
    start: { tcp_mss_default?: number; tcp_mss?: number };
    end: { sum_received: { bits_per_second: number; bytes: number } };
  };
  return {
    bytes: j.end.sum_received.bytes,
    mbits: j.end.sum_received.bits_per_second / 1e6,
    mss: j.start.tcp_mss_default ?? j.start.tcp_mss ?? 0,
  };
}

async function jumbo(
  t: TestContext,
  implA: Impl,
  implB: Impl,
  outer: 4 | 6,
  offload: 'on' | 'off',
  layout: Layout,
): Promise<void> {
  if (!need(t, NEEDS)) return;
  const lab = new Lab('ej');
  t.after(() => lab.cleanup());
  const env = { WGM_OFFLOAD: offload, ...layoutEnv(layout).env };
  const { a, b } = await tunnel(lab, implA, implB, { outer, linkMtu: LINK_MTU, mtu: TUNNEL_MTU, env });
  assert.match(lab.ip(a.ns, 'link', 'show', a.ifname), new RegExp(`mtu ${TUNNEL_MTU} `));
  assert.ok(ping(lab, a, b.inner.v4, { count: 2, min: 1 }), 'small ping (A initiates)');
  const before = [reassemblies(lab, a.ns), reassemblies(lab, b.ns)];

  assert.ok(ping(lab, a, b.inner.v4, { size: PING_SIZE, df: true }), `A → B ${PING_SIZE}-byte ping, IPv4 DF`);
  assert.ok(ping(lab, b, a.inner.v4, { size: PING_SIZE, df: true }), `B → A ${PING_SIZE}-byte ping, IPv4 DF`);
  assert.ok(ping(lab, a, b.inner.v6, { size: PING_SIZE, df: true }), `A → B ${PING_SIZE}-byte ping, IPv6`);
  assert.ok(ping(lab, b, a.inner.v6, { size: PING_SIZE, df: true }), `B → A ${PING_SIZE}-byte ping, IPv6`);
  // A packet of exactly the tunnel MTU passes; one byte more is refused before it leaves.
  assert.ok(ping(lab, a, b.inner.v4, { size: TUNNEL_MTU - 28, df: true }), 'a full-MTU (8920-byte) packet');
  const over = lab.exec(a.ns, 'ping', [
    '-c',
    '1',
    '-W',
    '2',
    '-M',
    'do',
    '-s',
    String(TUNNEL_MTU - 27),
    b.inner.v4,
  ]);
  assert.notEqual(over.status, 0);
  assert.match(over.stdout + over.stderr, new RegExp(`mtu ?= ?${TUNNEL_MTU}`), 'too big for the interface');
  assert.deepEqual(
    [reassemblies(lab, a.ns), reassemblies(lab, b.ns)],
    before,
    'no fragment arrived at either end, inside or outside the tunnel',
  );

  const there = await iperf(lab, a, b, false);
  const back = await iperf(lab, a, b, true);
  for (const [what, r] of [
    ['A → B', there],
    ['B → A', back],
  ] as const) {
    assert.ok(r.bytes > 1 << 20, `${what}: iperf3 carried ${r.bytes} bytes`);
    // IPv4 + TCP headers (40) and the timestamp option (12) under the tunnel MTU.
    assert.ok(r.mss >= TUNNEL_MTU - 52 && r.mss <= TUNNEL_MTU - 40, `${what}: TCP MSS ${r.mss}`);
  }
  await tcp(lab, a, b, outer, 4 << 20);
  await tcp(lab, b, a, outer === 4 ? 6 : 4, 2 << 20);
  t.diagnostic(
    `TCP over MTU ${TUNNEL_MTU}: A → B ${there.mbits.toFixed(0)} Mbit/s, B → A ${back.mbits.toFixed(0)} Mbit/s`,
  );
}

for (const [implA, implB, outer, offload, layout] of RUNS) {
  const other = layout === 'other' ? `, data plane ${layoutEnv(layout).env.WGM_DATAPLANE}` : '';
  test(`jumbo MTU ${TUNNEL_MTU}, ${implA} initiates to ${implB}, outer IPv${outer}, offloads ${offload}${other}`, (t) =>
    jumbo(t, implA, implB, outer, offload, layout));
}
