import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { EAGAIN } from '../../../src/sys/native.js';
import {
  decodeSockaddr,
  encodeSockaddr,
  MsgBatch,
  type RawAddr,
  SOCKADDR_SIZE,
  UdpSocket,
} from '../../../src/sys/udp.js';
import { need } from '../../lib/run.js';

const v4 = (a: number, b: number, c: number, d: number, port: number): RawAddr => ({
  family: 4,
  address: Uint8Array.of(a, b, c, d),
  port,
  scopeId: 0,
});
const loop6 = (port: number): RawAddr => ({
  family: 6,
  address: Uint8Array.of(...new Array(15).fill(0), 1),
  port,
  scopeId: 0,
});
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('sockaddr: IPv4 on a dual-stack socket is v4-mapped, and decodes back to IPv4', () => {
  const v = new DataView(new ArrayBuffer(SOCKADDR_SIZE));
  assert.equal(encodeSockaddr(v4(192, 0, 2, 7, 51820), v, 0, 6), 28);
  assert.equal(hex(new Uint8Array(v.buffer)), `0a00ca6c00000000${'00'.repeat(10)}ffffc000020700000000`);
  assert.deepEqual(decodeSockaddr(v, 0), v4(192, 0, 2, 7, 51820));
});

test('sockaddr: IPv6 keeps its scope id; IPv4 on an AF_INET socket is a sockaddr_in', () => {
  const v = new DataView(new ArrayBuffer(SOCKADDR_SIZE));
  const a: RawAddr = {
    family: 6,
    address: Uint8Array.of(0xfe, 0x80, ...new Array(13).fill(0), 9),
    port: 1,
    scopeId: 3,
  };
  assert.equal(encodeSockaddr(a, v, 0, 6), 28);
  assert.equal(v.getUint32(24, true), 3);
  assert.deepEqual(decodeSockaddr(v, 0), a);
  assert.equal(encodeSockaddr(v4(10, 1, 2, 3, 65535), v, 0, 4), 16);
  assert.equal(hex(new Uint8Array(v.buffer, 0, 8)), '0200ffff0a010203');
  assert.deepEqual(decodeSockaddr(v, 0), v4(10, 1, 2, 3, 65535));
  assert.throws(() => encodeSockaddr(a, v, 0, 4), /Address family not supported/);
  v.setUint16(0, 1, true); // AF_UNIX
  assert.equal(decodeSockaddr(v, 0), undefined);
});

test('port 0 binds a random port, reported by getsockname, that stock sockets reach (IPv4 and IPv6)', async () => {
  const s = UdpSocket.open({ port: 0 });
  const batch = new MsgBatch(8, 2048, s.family);
  try {
    assert.equal(s.family, 6);
    assert.ok(s.port > 0 && s.port < 65536);
    for (const [type, host] of [
      ['udp4', '127.0.0.1'],
      ['udp6', '::1'],
    ] as const) {
      const c = createSocket(type);
      c.bind(0, host);
      await once(c, 'listening');
      c.send(Buffer.from(`hello ${type}`), s.port, host);
      await new Promise((r) => setTimeout(r, 50));
      const n = batch.recv(s.fd);
      assert.equal(n, 1, type);
      assert.equal(
        Buffer.from(
          batch.bytes.subarray(batch.slotOffset(0), batch.slotOffset(0) + batch.length(0)),
        ).toString(),
        `hello ${type}`,
      );
      const from = batch.source(0)!;
      assert.equal(from.family, type === 'udp4' ? 4 : 6);
      assert.equal(from.port, c.address().port);
      c.close();
    }
    assert.equal(batch.recv(s.fd), -EAGAIN);
  } finally {
    batch.free();
    s.close();
  }
});

test('sendmmsg/recvmmsg move a batch on loopback in both families without loss or reordering', () => {
  for (const family of [4, 6] as const) {
    const a = UdpSocket.open({ port: 0 });
    const b = UdpSocket.open({ port: 0, family: family === 4 ? 4 : undefined });
    const tx = new MsgBatch(32, 2048, a.family);
    const rx = new MsgBatch(32, 2048, b.family);
    try {
      const to = family === 4 ? v4(127, 0, 0, 1, b.port) : loop6(b.port);
      for (let i = 0; i < 32; i++) {
        const len = 1 + i * 37;
        tx.bytes.fill(i, tx.slotOffset(i), tx.slotOffset(i) + len);
        tx.prepare(i, to, len);
      }
      assert.equal(tx.send(a.fd, 0, 32), 32);
      let got = 0;
      for (let tries = 0; got < 32 && tries < 100; tries++) {
        const n = rx.recv(b.fd, 32 - got);
        if (n === -EAGAIN) continue;
        assert.ok(n > 0);
        for (let i = 0; i < n; i++, got++) {
          assert.equal(rx.length(i), 1 + got * 37);
          assert.equal(rx.bytes[rx.slotOffset(i) + rx.length(i) - 1], got);
          assert.equal(rx.truncated(i), false);
          const src = rx.source(i)!;
          assert.equal(src.port, a.port);
          assert.equal(src.family, family);
        }
      }
      assert.equal(got, 32, `IPv${family}`);
    } finally {
      tx.free();
      rx.free();
      a.close();
      b.close();
    }
  }
});

test('a datagram larger than its slot is flagged truncated', () => {
  const a = UdpSocket.open({ port: 0 });
  const b = UdpSocket.open({ port: 0 });
  const tx = new MsgBatch(1, 4096, 6);
  const rx = new MsgBatch(1, 64, 6);
  try {
    tx.prepare(0, v4(127, 0, 0, 1, b.port), 3000);
    assert.equal(tx.send(a.fd, 0, 1), 1);
    let n = -EAGAIN;
    for (let i = 0; i < 100 && n === -EAGAIN; i++) n = rx.recv(b.fd);
    assert.equal(n, 1);
    assert.equal(rx.truncated(0), true);
  } finally {
    tx.free();
    rx.free();
    a.close();
    b.close();
  }
});

test('SO_MARK is set at open and can be changed (getsockopt reads it back)', (t) => {
  if (!need(t, { root: true })) return;
  const s = UdpSocket.open({ port: 0, fwmark: 0x1234 });
  try {
    assert.equal(s.fwmark, 0x1234);
    s.fwmark = 0xcafe;
    assert.equal(s.fwmark, 0xcafe);
    s.fwmark = 0;
    assert.equal(s.fwmark, 0);
  } finally {
    s.close();
  }
  const plain = UdpSocket.open({ port: 0 });
  assert.equal(plain.fwmark, 0);
  plain.close();
});

test('binding a port in use fails with EADDRINUSE', () => {
  const a = UdpSocket.open({ port: 0 });
  try {
    assert.throws(() => UdpSocket.open({ port: a.port }), /Address already in use/);
  } finally {
    a.close();
  }
});

test('a SO_REUSEPORT group steered by receiver index: byte 4 of the payload picks the socket', () => {
  const first = UdpSocket.open({ port: 0, reusePort: true });
  const second = UdpSocket.open({ port: first.port, reusePort: true });
  first.steerByReceiver(2);
  const sender = UdpSocket.open({ port: 0 });
  const tx = new MsgBatch(16, 64, 6);
  const rx = new MsgBatch(16, 64, 6);
  try {
    for (let i = 0; i < 16; i++) {
      const off = tx.slotOffset(i);
      tx.bytes.fill(0, off, off + 32);
      tx.bytes[off] = 4;
      tx.bytes[off + 4] = i; // the receiver index's low byte
      tx.bytes[off + 8] = 0xaa;
      tx.prepare(i, v4(127, 0, 0, 1, first.port), 32);
    }
    assert.equal(tx.send(sender.fd, 0, 16), 16);
    const seen: number[][] = [[], []];
    for (const [k, s] of [first, second].entries()) {
      for (let tries = 0; tries < 50 && seen[k]!.length < 8; tries++) {
        const n = rx.recv(s.fd);
        for (let i = 0; i < n; i++) seen[k]!.push(rx.bytes[rx.slotOffset(i) + 4]!);
      }
    }
    assert.deepEqual(seen[0], [0, 2, 4, 6, 8, 10, 12, 14]);
    assert.deepEqual(seen[1], [1, 3, 5, 7, 9, 11, 13, 15]);
  } finally {
    tx.free();
    rx.free();
    sender.close();
    second.close();
    first.close();
  }
});
