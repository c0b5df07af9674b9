// Handshake messages packed by a receive worker and read back by the main thread
// (src/engine/dataplane/handshake-batch.ts): every message, its source and arrival address.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  HandshakeBatchWriter,
  readHandshakeBatch,
} from '../../../../src/engine/dataplane/handshake-batch.js';
import { decodePktinfo, encodePktinfo, type LocalAddr } from '../../../../src/sys/pktinfo.js';
import { encodeSockaddr, type RawAddr } from '../../../../src/sys/udp.js';

interface Item {
  msg: Uint8Array;
  from: RawAddr;
  local: LocalAddr | undefined;
}

/** Lays the items out as recvmmsg would (a slot per datagram: bytes, sockaddr, control) and packs them. */
function pack(items: Item[], sockFamily: 4 | 6) {
  const src = new Uint8Array(4096);
  const view = new DataView(src.buffer);
  const w = new HandshakeBatchWriter(items.length);
  items.forEach((it, i) => {
    const base = i * 400;
    src.set(it.msg, base);
    encodeSockaddr(it.from, view, base + 200, sockFamily);
    const ctlLen = it.local ? encodePktinfo(it.local, view, base + 240) : 0;
    w.add(src, base, it.msg.length, base + 200, base + 240, ctlLen);
  });
  return w;
}

function read(buf: ArrayBuffer, used: number) {
  const out: { msg: Uint8Array; from: RawAddr | undefined; local: LocalAddr | undefined }[] = [];
  readHandshakeBatch(buf, used, (msg, from, local) => out.push({ msg: Uint8Array.from(msg), from, local }));
  return out;
}

const msg = (type: number, len: number) => {
  const m = new Uint8Array(randomBytes(len));
  m.set([type, 0, 0, 0]);
  return m;
};

test('messages of each type, IPv4 and IPv6 sources, with and without an arrival address, come back as sent', () => {
  const items: Item[] = [
    {
      msg: msg(1, 148),
      from: { family: 4, address: Uint8Array.of(192, 0, 2, 7), port: 51820, scopeId: 0 },
      local: { family: 4, address: Uint8Array.of(192, 0, 2, 1), ifindex: 0 },
    },
    {
      msg: msg(2, 92),
      from: { family: 6, address: new Uint8Array(randomBytes(16)), port: 1, scopeId: 3 },
      local: { family: 6, address: new Uint8Array(randomBytes(16)), ifindex: 0 },
    },
    {
      msg: msg(3, 64),
      from: { family: 4, address: Uint8Array.of(10, 1, 2, 3), port: 65535, scopeId: 0 },
      local: undefined,
    },
  ];
  const w = pack(items, 6);
  assert.equal(w.count, 3);
  const b = w.take()!;
  assert.equal(b.count, 3);
  assert.equal(b.buf.byteLength, b.used, 'only what was used is handed over');
  const got = read(b.buf, b.used);
  assert.equal(got.length, 3);
  got.forEach((g, i) => {
    assert.deepEqual(g.msg, items[i]!.msg);
    assert.deepEqual(g.from, items[i]!.from);
    // What the worker's socket reported for the arrival address, decoded the same way.
    const v = new DataView(new ArrayBuffer(64));
    const expect = items[i]!.local
      ? decodePktinfo(new Uint8Array(v.buffer), 0, encodePktinfo(items[i]!.local!, v, 0))
      : undefined;
    assert.deepEqual(g.local, expect);
  });
});

test('an IPv4-only socket (AF_INET sockaddrs) works too', () => {
  const from: RawAddr = { family: 4, address: Uint8Array.of(198, 51, 100, 9), port: 4242, scopeId: 0 };
  const b = pack([{ msg: msg(1, 148), from, local: undefined }], 4).take()!;
  assert.deepEqual(read(b.buf, b.used)[0]!.from, from);
});

test('take() hands over once and starts afresh; an empty writer hands over nothing', () => {
  const from: RawAddr = { family: 4, address: Uint8Array.of(192, 0, 2, 7), port: 1, scopeId: 0 };
  const w = pack([{ msg: msg(1, 148), from, local: undefined }], 6);
  assert.ok(w.take());
  assert.equal(w.take(), undefined);
  assert.equal(w.count, 0);
  assert.equal(new HandshakeBatchWriter(4).take(), undefined);
});

test('a full batch of initiations fits (the largest records, with arrival addresses)', () => {
  const items: Item[] = Array.from({ length: 8 }, (_, i) => ({
    msg: msg(1, 148),
    from: { family: 6, address: new Uint8Array(randomBytes(16)), port: i, scopeId: 0 },
    local: { family: 6, address: new Uint8Array(randomBytes(16)), ifindex: 2 },
  }));
  const b = pack(items, 6).take()!;
  assert.equal(read(b.buf, b.used).length, 8);
});
