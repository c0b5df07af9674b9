// Decoding WG_CMD_GET_DEVICE dumps (the kernel's drivers/net/wireguard/netlink.c,
// wg_get_device_dump; wireguard-tools src/ipc-linux.h, kernel_get_device and coalesce_peers): real
// dumps recorded from the kernel in the test VM must read back as exactly what stock wg printed for
// the same device, including a peer whose allowed IPs were continued over several messages;
// hand-built dumps pin down the coalescing rule and the malformed cases.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAttrs } from '../../../../src/backend/netlink/attrs.js';
import { coalescePeers, DeviceDump, encodeGetDevice } from '../../../../src/backend/netlink/device-get.js';
import { NetlinkError } from '../../../../src/backend/netlink/errors.js';
import type { Message } from '../../../../src/backend/netlink/messages.js';
import { readReply } from '../../../../src/backend/netlink/transport.js';
import { newPeer } from '../../../../src/model/index.js';
import { dumpText, showconfText } from '../../../vm/wg-text.js';
import { bytes, fixture, guestScopes } from './fixtures.js';

function replay(name: string): { dump: DeviceDump; messages: Message[] } {
  const f = fixture(name);
  const dump = new DeviceDump(guestScopes());
  const messages: Message[] = [];
  let complete = false;
  for (const d of f.datagrams) {
    const dg = bytes(d);
    const port = new DataView(dg.buffer, dg.byteOffset).getUint32(12, true);
    complete = readReply(dg, 1000, port, (m) => {
      messages.push(m);
      dump.add(m);
    });
  }
  assert.equal(complete, true, `${name}: the recorded dump ends with NLMSG_DONE`);
  return { dump, messages };
}

for (const [name, iface] of [
  ['get-wgf0', 'wgf0'],
  ['get-wgf1', 'wgf1'],
  ['get-wgf2', 'wgf2'],
] as const) {
  test(`${name}: the recorded kernel dump reads back as wg showconf and wg show dump printed it`, () => {
    const f = fixture(name);
    const d = replay(name).dump.device();
    assert.equal(d.name, iface);
    assert.equal(showconfText(d), f.wg[`showconf ${iface}`]);
    assert.equal(dumpText(d), f.wg[`show ${iface} dump`]);
  });
}

test('get-wgf1: the 400-prefix peer really was continued, and continuations carry only key and IPs', () => {
  const { dump, messages } = replay('get-wgf1');
  assert.ok(messages.length >= 3, `expected several dump messages, got ${messages.length}`);
  const nests: number[][] = [];
  for (const m of messages) {
    for (const a of parseAttrs(m.payload, 4)) {
      if (a.type !== 8) continue;
      for (const p of parseAttrs(a.data)) nests.push(parseAttrs(p.data).map((x) => x.type));
    }
  }
  const peers = dump.device().peers;
  assert.equal(peers.length, 2);
  assert.ok(nests.length > peers.length, 'more peer nests than peers: some were continuations');
  const continuations = nests.filter((types) => types.length === 2);
  assert.ok(continuations.length >= 2);
  for (const types of continuations) assert.deepEqual(types, [1, 9], 'PUBLIC_KEY then ALLOWEDIPS');
  assert.equal(peers[0]!.allowedIPs.length, 400);
  assert.equal(peers[1]!.allowedIPs.length, 2);
});

test('the GET_DEVICE request: REQUEST|ACK|DUMP, cmd 0 version 1, IFNAME', () => {
  const expected = [
    28,
    0,
    0,
    0, // nlmsg_len
    35,
    0, // the family id
    0x05,
    0x03, // NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP (0x300)
    1,
    0,
    0,
    0, // seq
    0,
    0,
    0,
    0, // pid
    0,
    1,
    0,
    0, // WG_CMD_GET_DEVICE, version 1
    8,
    0,
    2,
    0,
    0x77,
    0x67,
    0x30,
    0, // WGDEVICE_A_IFNAME "wg0"
  ];
  assert.deepEqual([...encodeGetDevice(35, 'wg0').finish(1)], expected);
});

/**
 * A dump message built by hand from the attribute enums of wireguard-tools
 * src/uapi/linux/linux/wireguard.h.
 */
function dumpMessage(attrs: number[]): Message {
  return { type: 35, flags: 2, seq: 1, pid: 1, payload: Uint8Array.from([0, 1, 0, 0, ...attrs]) };
}
const attr = (type: number, payload: number[]): number[] => {
  const len = 4 + payload.length;
  return [len & 255, len >> 8, type & 255, type >> 8, ...payload, ...new Array((4 - (len % 4)) % 4).fill(0)];
};
const nest = (type: number, ...children: number[][]) => attr(type | 0x8000, children.flat());
const key = (b: number) => new Array(32).fill(b);
const ip4 = (a: number, b: number, c: number, d: number, cidr: number) =>
  nest(0, attr(3, [cidr]), attr(1, [2, 0]), attr(2, [a, b, c, d]));

test('continuations are coalesced into the peer before them; their other attributes are ignored', () => {
  const dump = new DeviceDump(guestScopes());
  dump.add(
    dumpMessage([
      ...attr(6, [0x6c, 0xca]), // LISTEN_PORT 51820
      ...attr(1, [9, 0, 0, 0]), // IFINDEX
      ...attr(2, [0x77, 0x67, 0x30, 0]), // IFNAME
      ...nest(8, nest(0, attr(1, key(0xaa)), attr(5, [25, 0]), nest(9, ip4(10, 0, 0, 0, 24)))),
    ]),
  );
  dump.add(
    dumpMessage([
      ...nest(
        8,
        nest(0, attr(1, key(0xaa)), attr(5, [99, 0]), nest(9, ip4(10, 0, 1, 0, 24), ip4(10, 0, 2, 0, 24))),
        nest(0, attr(1, key(0xbb)), nest(9, ip4(192, 168, 0, 1, 32))),
      ),
    ]),
  );
  const d = dump.device();
  assert.equal(d.listenPort, 51820);
  assert.equal(d.ifindex, 9);
  assert.equal(d.name, 'wg0');
  assert.equal(d.peers.length, 2);
  assert.equal(d.peers[0]!.persistentKeepalive, 25);
  assert.deepEqual(
    d.peers[0]!.allowedIPs.map((ip) => [...ip.address, ip.cidr]),
    [
      [10, 0, 0, 0, 24],
      [10, 0, 1, 0, 24],
      [10, 0, 2, 0, 24],
    ],
  );
  assert.equal(d.peers[1]!.publicKey![0], 0xbb);
});

test('only adjacent peers with equal keys are merged', () => {
  const p = (k: number, n: number) =>
    newPeer({
      publicKey: new Uint8Array(32).fill(k),
      allowedIPs: [{ family: 4, address: Uint8Array.of(n, 0, 0, 0), cidr: 8 }],
    });
  const out = coalescePeers([p(1, 1), p(1, 2), p(2, 3), p(1, 4)]);
  assert.deepEqual(
    out.map((x) => [x.publicKey![0], x.allowedIPs.map((ip) => ip.address[0])]),
    [
      [1, [1, 2]],
      [2, [3]],
      [1, [4]],
    ],
  );
});

test('a peer without a public key, or a prefix longer than its address, is a malformed reply', () => {
  const bad = (peer: number[]) =>
    assert.throws(
      () => new DeviceDump(guestScopes()).add(dumpMessage(nest(8, peer))),
      (e: unknown) => e instanceof NetlinkError && e.errno === 74,
    );
  bad(nest(0, attr(5, [25, 0])));
  bad(nest(0, attr(1, key(1)), nest(9, ip4(10, 0, 0, 0, 33))));
});
