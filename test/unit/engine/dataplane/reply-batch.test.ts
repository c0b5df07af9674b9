// The main thread's handshake replies of one slice, sent with one sendmmsg at its end
// (dataplane/reply-batch.ts), on real sockets on loopback: nothing leaves before the slice
// ends, everything leaves in order with its bytes counted, a refused datagram is tried alone and
// reported while the ones after it still go, nested or full slices flush once each, and a
// flush before the slice's end first runs its hook (the keypairs the slice holds go first).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type QueuedReply, ReplyBatch } from '../../../../src/engine/dataplane/reply-batch.js';
import { EAGAIN } from '../../../../src/sys/native.js';
import { MsgBatch, type RawAddr, UdpSocket } from '../../../../src/sys/udp.js';

const loop4 = (port: number): RawAddr => ({
  family: 4,
  address: Uint8Array.of(127, 0, 0, 1),
  port,
  scopeId: 0,
});

function setup() {
  const tx = UdpSocket.open({ port: 0 });
  const rx = UdpSocket.open({ port: 0 });
  const inbox = new MsgBatch(128, 256, rx.family);
  const counted: number[] = [];
  const failed: number[] = [];
  const q = (i: number, port = rx.port): QueuedReply => ({
    to: loop4(port),
    len: 0,
    sent: (len) => counted.push(len),
    retry: (addr, len) => tx.sendTo(loop4(port), addr, len),
    failed: () => failed.push(i),
  });
  const msg = (i: number) => new Uint8Array(92).fill(i);
  const received = (): number[] => {
    const n = inbox.recv(rx.fd);
    if (n === -EAGAIN) return [];
    assert.ok(n >= 0, `recvmmsg: ${n}`);
    return Array.from({ length: n }, (_, k) => inbox.bytes[inbox.slotOffset(k)]!);
  };
  const close = () => {
    inbox.free();
    tx.close();
    rx.close();
  };
  return { tx, rx, q, msg, received, counted, failed, close };
}

/** Runs `body` with fresh sockets and a batch, and frees both after it. */
function withBatch(body: (s: ReturnType<typeof setup>, b: ReplyBatch) => void): void {
  const s = setup();
  const b = new ReplyBatch();
  try {
    body(s, b);
  } finally {
    b.free();
    s.close();
  }
}

test('messages of a slice leave together at its end, in order, each counted', () =>
  withBatch((s, b) => {
    b.collect(
      () => s.tx,
      () => {
        for (let i = 1; i <= 5; i++) {
          const q = { ...s.q(i), len: 92 };
          assert.ok(b.add(s.tx, s.msg(i), q, undefined));
        }
        assert.deepEqual(s.received(), [], 'nothing left during the slice');
      },
    );
    assert.deepEqual(s.received(), [1, 2, 3, 4, 5]);
    assert.deepEqual(s.counted, [92, 92, 92, 92, 92]);
    assert.deepEqual(s.failed, []);
    assert.equal(b.active, false);
  }));

test('a refused datagram (port 0) is tried alone and reported; the ones after it still go', () =>
  withBatch((s, b) => {
    b.collect(
      () => s.tx,
      () => {
        b.add(s.tx, s.msg(1), { ...s.q(1), len: 92 }, undefined);
        b.add(s.tx, s.msg(2), { ...s.q(2, 0), len: 92 }, undefined);
        b.add(s.tx, s.msg(3), { ...s.q(3), len: 92 }, undefined);
      },
    );
    assert.deepEqual(s.received(), [1, 3]);
    assert.deepEqual(s.failed, [2]);
    assert.equal(s.counted.length, 2);
  }));

test('a nested slice flushes with the outer one; a full batch flushes early; too long is refused', () =>
  withBatch((s, b) => {
    b.collect(
      () => s.tx,
      () => {
        b.collect(
          () => s.tx,
          () => b.add(s.tx, s.msg(1), { ...s.q(1), len: 92 }, undefined),
        );
        assert.deepEqual(s.received(), [], 'the inner end does not flush');
        for (let i = 2; i <= 70; i++) b.add(s.tx, s.msg(i), { ...s.q(i), len: 92 }, undefined);
        assert.equal(s.received().length, 64, 'the first 64 went when the 65th came');
        assert.equal(b.add(s.tx, new Uint8Array(149), s.q(0), undefined), false);
      },
    );
    assert.deepEqual(s.received(), [65, 66, 67, 68, 69, 70]);
    assert.equal(s.counted.length, 70);
  }));

test('an early flush first runs the hook (the slice posts its keypairs), the end of the slice does not', () => {
  const s = setup();
  const other = UdpSocket.open({ port: 0 });
  const calls: number[] = [];
  // What had left when the hook ran: nothing of this slice may leave before it.
  const b = new ReplyBatch(() => calls.push(s.received().length));
  try {
    b.collect(
      () => other,
      () => {
        for (let i = 1; i <= 64; i++) b.add(s.tx, s.msg(i), { ...s.q(i), len: 92 }, undefined);
        assert.deepEqual(calls, [], 'not while the batch has room');
        b.add(s.tx, s.msg(65), { ...s.q(65), len: 92 }, undefined);
        assert.deepEqual(calls, [0], 'once, before the first 64 left');
        assert.equal(s.received().length, 64);
        // A message for another socket flushes early too.
        b.add(other, s.msg(66), { ...s.q(66), len: 92 }, undefined);
        assert.deepEqual(calls, [0, 0]);
        assert.deepEqual(s.received(), [65]);
      },
    );
    assert.deepEqual(calls, [0, 0], 'the end of a slice is not early');
    assert.deepEqual(s.received(), [66]);
  } finally {
    b.free();
    other.close();
    s.close();
  }
});
