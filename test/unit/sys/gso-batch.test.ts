// Sending a MsgBatch with UDP_SEGMENT (sys/gso-batch.ts): how datagrams group into messages
// (one destination key, one length, a shorter last one, the kernel's 64-segment and 64 KiB
// limits), and, over loopback, that every datagram arrives as it was laid out, in order,
// including datagrams of different peers interleaved and a run that ends short.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GsoBatch } from '../../../src/sys/gso-batch.js';
import { POLLIN, PollSet } from '../../../src/sys/native.js';
import { MsgBatch, type RawAddr, UdpSocket } from '../../../src/sys/udp.js';
import { UDP_MAX_SEGMENTS, udpGsoSupported } from '../../../src/sys/udp-gso.js';

function loopback(port: number): RawAddr {
  return { family: 4, address: Uint8Array.of(127, 0, 0, 1), port, scopeId: 0 };
}

/** A batch of `lens.length` datagrams to `to[j]` with bytes derived from j. */
function layout(batch: MsgBatch, to: RawAddr[], lens: number[]): void {
  lens.forEach((len, j) => {
    const o = batch.slotOffset(j);
    for (let k = 0; k < len; k++) batch.bytes[o + k] = (j * 7 + k) & 0xff;
    batch.prepare(j, to[j]!, len);
  });
}

test('grouping: one key and length per message, a shorter datagram ends it, at most 64 segments and 64 KiB', () => {
  const batch = new MsgBatch(128, 2048, 4);
  const g = new GsoBatch(batch);
  try {
    const run = (keys: number[], lens: number[]) => {
      const to = keys.map((k) => loopback(1000 + k));
      layout(batch, to, lens);
      const n = g.build(lens.length, Int32Array.from(keys), Int32Array.from(lens));
      return [...g.segments.subarray(0, n)].map((s, k) => [g.first[k], s]);
    };
    assert.deepEqual(run([1, 1, 1, 1], [100, 100, 100, 100]), [[0, 4]]);
    assert.deepEqual(run([1, 1, 1, 1], [100, 100, 60, 100]), [
      [0, 3],
      [3, 1],
    ]);
    assert.deepEqual(run([1, 1, 2, 2, 1], [100, 100, 100, 100, 100]), [
      [0, 2],
      [2, 2],
      [4, 1],
    ]);
    assert.deepEqual(run([1, 1, 1], [100, 120, 120]), [
      [0, 1],
      [1, 2],
    ]);
    const many = new Array(100).fill(1);
    assert.deepEqual(run(many, new Array(100).fill(200)), [
      [0, UDP_MAX_SEGMENTS],
      [UDP_MAX_SEGMENTS, 100 - UDP_MAX_SEGMENTS],
    ]);
    // 1452-byte datagrams: 45 make 65340 bytes, a 46th would pass 65507.
    assert.deepEqual(run(many.slice(0, 50), new Array(50).fill(1452)), [
      [0, 45],
      [45, 5],
    ]);
  } finally {
    g.free();
    batch.free();
  }
});

test('over loopback: interleaved destinations and short last datagrams arrive as laid out, in order', (t) => {
  const probe = UdpSocket.open({ port: 0, family: 4 });
  const ok = udpGsoSupported(probe.fd);
  probe.close();
  if (!ok) return t.skip('needs a kernel with UDP_SEGMENT');
  const tx = UdpSocket.open({ port: 0, family: 4 });
  const rx = [UdpSocket.open({ port: 0, family: 4 }), UdpSocket.open({ port: 0, family: 4 })];
  const batch = new MsgBatch(64, 2048, tx.family);
  const g = new GsoBatch(batch);
  const back = new MsgBatch(64, 2048, 4);
  try {
    const keys = [0, 0, 0, 1, 1, 0, 0, 0, 0, 1];
    const lens = [900, 900, 500, 700, 700, 900, 900, 900, 33, 1];
    const to = keys.map((k) => loopback(rx[k]!.port));
    layout(batch, to, lens);
    const k = g.build(lens.length, Int32Array.from(keys), Int32Array.from(lens));
    assert.equal(k, 4);
    assert.equal(g.send(tx.fd, 0, k), k);
    for (const [which, want] of [
      [0, [0, 1, 2, 5, 6, 7, 8]],
      [1, [3, 4, 9]],
    ] as const) {
      const ps = new PollSet([{ fd: rx[which]!.fd, events: POLLIN }]);
      ps.wait(2000);
      ps.free();
      const got: Uint8Array[] = [];
      for (let tries = 0; tries < 50 && got.length < want.length; tries++) {
        const n = back.recv(rx[which]!.fd);
        for (let i = 0; i < n; i++) {
          const o = back.slotOffset(i);
          got.push(back.bytes.slice(o, o + back.length(i)));
        }
      }
      assert.equal(got.length, want.length, `socket ${which}`);
      want.forEach((j, i) => {
        const o = batch.slotOffset(j);
        assert.deepEqual(got[i], batch.bytes.slice(o, o + lens[j]!), `socket ${which}, datagram ${j}`);
      });
    }
  } finally {
    g.free();
    batch.free();
    back.free();
    tx.close();
    for (const s of rx) s.close();
  }
});
