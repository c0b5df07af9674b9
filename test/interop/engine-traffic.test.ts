// wgm-engine carrying traffic, against stock wireguard-go and against itself, in private
// network namespaces joined by a veth pair: each side initiating, IPv4 and IPv6 outer and
// inner addresses, ping (small, full-MTU and fragmented 1400-byte payloads), TCP (a fixed
// amount of random bytes, checked by SHA-256) and UDP (datagrams echoed back), and byte
// counters that agree exactly between the two ends (while nothing is lost), and bursts of UDP
// handed to the kernel with UDP_SEGMENT both ways (checked datagram by datagram). Each pair
// runs with the engine's offloads on (the default: TUN TSO/USO split and merged in the
// workers, UDP GSO/GRO); some combinations run again with WGM_OFFLOAD=off, the plain path,
// and some with the data-plane layout this host does not get by default (WGM_DATAPLANE: one
// worker for both directions, or one each).
// Then the same through a third namespace that routes between the two, with roaming across it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IFF_VNET_HDR, tunFeatures } from '../../src/sys/tun-offload.js';
import { type Layout, layoutEnv } from '../lib/dataplane-layout.js';
import {
  dumpPeers,
  type Impl,
  Lab,
  moveAddress,
  ping,
  type Side,
  snmp,
  type Tunnel,
  tunnel,
  waitFor,
} from '../lib/netns.js';
import { need } from '../lib/run.js';
import { spawnReady, tcp, udpBurst } from '../lib/tunnel-traffic.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping'] };

type Offload = 'on' | 'off';

/**
 * Pair, outer family, engine offloads, layout: every pair and family with offloads, a cross of
 * them without, and a cross of them in the other layout.
 */
const RUNS: [Impl, Impl, 4 | 6, Offload, Layout][] = [
  ['wgm-engine', 'wireguard-go', 4, 'on', 'default'],
  ['wgm-engine', 'wireguard-go', 6, 'on', 'default'],
  ['wireguard-go', 'wgm-engine', 4, 'on', 'default'],
  ['wireguard-go', 'wgm-engine', 6, 'on', 'default'],
  ['wgm-engine', 'wgm-engine', 4, 'on', 'default'],
  ['wgm-engine', 'wgm-engine', 6, 'on', 'default'],
  ['wgm-engine', 'wireguard-go', 6, 'off', 'default'],
  ['wireguard-go', 'wgm-engine', 4, 'off', 'default'],
  ['wgm-engine', 'wgm-engine', 4, 'off', 'default'],
  ['wgm-engine', 'wireguard-go', 4, 'on', 'other'],
  ['wireguard-go', 'wgm-engine', 6, 'on', 'other'],
  ['wgm-engine', 'wgm-engine', 6, 'on', 'other'],
  ['wgm-engine', 'wgm-engine', 4, 'off', 'other'],
];

/** What the engine's verbose log says of its TUN with offloads on, or off. */
function offloadLine(offload: Offload): RegExp {
  if (offload === 'off') return /Offloads off \(WGM_OFFLOAD=off\)/;
  // A kernel without IFF_VNET_HDR gets the plain TUN, and says so.
  return tunFeatures() & IFF_VNET_HDR ? /TUN offloads: csum, tso4, tso6/ : /TUN offloads unavailable/;
}

const UDP_ECHO = `
const s = require('node:dgram').createSocket(process.argv[1].includes(':') ? 'udp6' : 'udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(7777, process.argv[1], () => console.log('ready'));
setTimeout(() => process.exit(0), 20000);
`;

const UDP_CLIENT = `
const addr = process.argv[1];
const s = require('node:dgram').createSocket(addr.includes(':') ? 'udp6' : 'udp4');
let got = 0;
s.on('message', () => { got++; });
const payload = Buffer.alloc(1000, 0x5a);
let i = 0;
const t = setInterval(() => { s.send(payload, 7777, addr); if (++i === 50) clearInterval(t); }, 10);
setTimeout(() => { console.log(got); process.exit(0); }, 2500);
`;

/** 50 UDP datagrams of 1000 bytes to an echo server through the tunnel; returns how many came back. */
async function udp(lab: Lab, from: Side, to: Side, family: 4 | 6): Promise<number> {
  const addr = family === 4 ? to.inner.v4 : to.inner.v6;
  const server = await spawnReady(
    lab,
    to.ns,
    process.execPath,
    ['-e', UDP_ECHO, addr],
    'ready',
    'UDP echo server',
  );
  const r = lab.exec(from.ns, process.execPath, ['-e', UDP_CLIENT, addr], { timeoutMs: 15_000 });
  server.child.kill();
  return Number(r.stdout.trim());
}

/** Both ends agree on what crossed: A's tx is B's rx and the other way round. */
async function countersAgree(lab: Lab, t: Tunnel): Promise<void> {
  let last = '';
  await waitFor(
    'byte counters to agree',
    () => {
      const pa = dumpPeers(lab, t.a).get(t.b.key.pub)!;
      const pb = dumpPeers(lab, t.b).get(t.a.key.pub)!;
      last = `A tx ${pa.tx} rx ${pa.rx}, B tx ${pb.tx} rx ${pb.rx}`;
      return pa.tx === pb.rx && pa.rx === pb.tx && pa.tx > 0 && pb.tx > 0;
    },
    5000,
    200,
  ).catch(() => assert.fail(`counters disagree: ${last}`));
}

for (const [implA, implB, outer, offload, layout] of RUNS) {
  const other = layout === 'other' ? `, data plane ${layoutEnv(layout).env.WGM_DATAPLANE}` : '';
  test(`${implA} initiates to ${implB}, outer IPv${outer}, offloads ${offload}${other}: ping, TCP, UDP, counters`, async (t) => {
    if (!need(t, NEEDS)) return;
    const lab = new Lab('et');
    t.after(() => lab.cleanup());
    const threads = layoutEnv(layout);
    const env = { LOG_LEVEL: 'verbose', WGM_OFFLOAD: offload, ...threads.env };
    const tun = await tunnel(lab, implA, implB, { outer, env });
    const { a, b } = tun;
    for (const s of [a, b])
      if (s.d.impl === 'wgm-engine') {
        assert.match(s.d.output(), offloadLine(offload), 'the engine says which path');
        assert.match(s.d.output(), threads.line, 'and which workers');
      }
    const started = Math.floor(Date.now() / 1000);
    // A speaks first, so A initiates the handshake.
    assert.ok(ping(lab, a, b.inner.v4, { count: 3, min: 2 }), 'ping over IPv4 inner');
    const pa = dumpPeers(lab, a).get(b.key.pub)!;
    const pb = dumpPeers(lab, b).get(a.key.pub)!;
    assert.ok(pa.handshake >= started - 1, `A's latest handshake ${pa.handshake}`);
    assert.ok(pb.handshake >= started - 1, `B's latest handshake ${pb.handshake}`);
    const aEndpoint = outer === 4 ? `${a.outer.v4}:${a.port}` : `[${a.outer.v6}]:${a.port}`;
    assert.equal(pb.endpoint, aEndpoint, "B learned A's endpoint");
    assert.ok(ping(lab, a, b.inner.v6), 'ping over IPv6 inner');
    assert.ok(ping(lab, b, a.inner.v4), 'ping back from B');
    assert.ok(ping(lab, a, b.inner.v4, { size: 1392, df: true }), 'full-MTU ping (1420-byte packets, DF)');
    assert.ok(ping(lab, a, b.inner.v4, { size: 1400 }), '1400-byte ping over IPv4 inner (fragmented)');
    assert.ok(ping(lab, b, a.inner.v6, { size: 1400 }), '1400-byte ping over IPv6 inner');
    // Light traffic loses nothing, so both ends must agree to the byte (rx_bytes/tx_bytes, wireguard-go's IpcGetOperation).
    await countersAgree(lab, tun);
    await tcp(lab, a, b, outer, 4 << 20);
    await tcp(lab, b, a, outer === 4 ? 6 : 4, 1 << 20);
    const echoed = await udp(lab, a, b, outer === 4 ? 6 : 4);
    assert.ok(echoed >= 45, `UDP: ${echoed} of 50 datagrams echoed`);
    await udpBurst(lab, a, b, outer);
    await udpBurst(lab, b, a, outer === 4 ? 6 : 4);
    // Bulk traffic may overflow a receiver's socket buffer: nobody counts more than was sent.
    const qa = dumpPeers(lab, a).get(b.key.pub)!;
    const qb = dumpPeers(lab, b).get(a.key.pub)!;
    assert.ok(qa.tx > 4 << 20 && qb.rx > 3 << 20, `bulk traffic counted: A tx ${qa.tx}, B rx ${qb.rx}`);
    assert.ok(qb.rx <= qa.tx && qa.rx <= qb.tx, `A tx ${qa.tx} rx ${qa.rx}, B tx ${qb.tx} rx ${qb.rx}`);
  });
}

for (const [implA, implB] of [
  ['wgm-engine', 'wgm-engine'],
  ['wgm-engine', 'wireguard-go'],
] as [Impl, Impl][]) {
  test(`${implA} to ${implB} through a router namespace: ping, TCP, roaming`, async (t) => {
    if (!need(t, NEEDS)) return;
    const lab = new Lab('eR');
    t.after(() => lab.cleanup());
    const tun = await tunnel(lab, implA, implB, { routed: true, subnet: 245 });
    const { a, b } = tun;
    assert.ok(tun.router);
    assert.equal(b.outer.v4, '192.168.246.2', 'B sits on the far subnet');
    assert.match(lab.ip(a.ns, 'route', 'get', b.outer.v4), /via 192\.168\.245\.2 /, 'A reaches B via R');
    const router = tun.router;
    const crossed = snmp(lab, router, 'Ip', 'ForwDatagrams');
    assert.ok(ping(lab, a, b.inner.v4, { count: 3, min: 2 }), 'ping A → B (A initiates)');
    assert.ok(ping(lab, b, a.inner.v4), 'ping B → A');
    assert.ok(ping(lab, a, b.inner.v6), 'ping A → B, IPv6 inner');
    assert.ok(ping(lab, a, b.inner.v4, { size: 1400 }), '1400-byte ping A → B');
    assert.ok(ping(lab, b, a.inner.v4, { size: 1400 }), '1400-byte ping B → A');
    assert.ok(snmp(lab, router, 'Ip', 'ForwDatagrams') >= crossed + 24, 'the traffic crossed R');
    assert.equal(dumpPeers(lab, b).get(a.key.pub)?.endpoint, `${a.outer.v4}:${a.port}`);
    await tcp(lab, a, b, 4, 4 << 20);
    await tcp(lab, b, a, 6, 1 << 20);
    // A changes address on its subnet; B learns the new one from A's next packet, through R.
    moveAddress(lab, a.ns, tun.vethA, a.outer.v4, '192.168.245.3');
    assert.ok(ping(lab, a, b.inner.v4, { count: 3, min: 2 }), 'ping after A moved');
    assert.equal(dumpPeers(lab, b).get(a.key.pub)?.endpoint, `192.168.245.3:${a.port}`, 'B follows A');
    assert.ok(ping(lab, b, a.inner.v4), 'B reaches A at its new address');
    await tcp(lab, b, a, 4, 1 << 20);
  });
}
