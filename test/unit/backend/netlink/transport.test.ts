// How a reply is read (src/backend/netlink/transport.ts readReply): ACKs, errors with either
// sign, the end of a dump, NLM_F_DUMP_INTR, messages for someone else, several messages per
// datagram; and real kernel error replies recorded in the test VM.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetlinkError } from '../../../../src/backend/netlink/errors.js';
import type { Message } from '../../../../src/backend/netlink/messages.js';
import { readReply } from '../../../../src/backend/netlink/transport.js';
import { bytes, fixture } from './fixtures.js';

const SEQ = 1234;
const PORT = 4321;

/** One raw netlink message: header fields and payload, padded to 4 bytes. */
function msg(type: number, flags: number, payload: number[] = [], seq = SEQ, pid = PORT): number[] {
  const len = 16 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(pid, 12);
  Buffer.from(payload).copy(b, 16);
  return [...b];
}
const i32 = (v: number) => [...new Uint8Array(new Int32Array([v]).buffer)];
/** NLMSG_ERROR: int error, then the request's header (16 bytes, NETLINK_CAP_ACK style). */
const error = (e: number, seq = SEQ) => msg(2, 0x100, [...i32(e), ...new Array(16).fill(0)], seq);
const done = (e = 0, flags = 0x02) => msg(3, flags, i32(e));
const data = (tag: number, flags = 0x02) => msg(0x23, flags, [tag, 0, 0, 0]);

function read(...datagrams: number[][]): { complete: boolean[]; seen: number[] } {
  const seen: number[] = [];
  const onData = (m: Message) => seen.push(m.payload[0]!);
  const complete = datagrams.map((d) => readReply(Uint8Array.from(d), SEQ, PORT, onData));
  return { complete, seen };
}

function throwsErrno(fn: () => unknown, errno: number): void {
  assert.throws(fn, (e: unknown) => e instanceof NetlinkError && e.errno === errno);
}

test('an ACK (NLMSG_ERROR with error 0) completes a request', () => {
  assert.deepEqual(read(error(0)), { complete: [true], seen: [] });
});

test('a data reply followed by its ACK in the same datagram', () => {
  assert.deepEqual(read([...data(7, 0), ...error(0)]), { complete: [true], seen: [7] });
});

test('an error reply throws its errno, whichever sign the family used', () => {
  throwsErrno(() => read(error(-19)), 19);
  throwsErrno(() => read(error(95)), 95);
});

test('a multi-part dump is complete only at NLMSG_DONE, data delivered in order', () => {
  assert.deepEqual(read([...data(1), ...data(2)], data(3), [...data(4), ...done()]), {
    complete: [false, false, true],
    seen: [1, 2, 3, 4],
  });
});

test('NLMSG_DONE carrying an error throws it', () => {
  throwsErrno(() => read(data(1), done(-12)), 12);
});

test('NLM_F_DUMP_INTR stops with EINTR after delivering the messages before it', () => {
  const seen: number[] = [];
  throwsErrno(
    () =>
      readReply(Uint8Array.from([...data(1), ...data(2, 0x02 | 0x10), ...data(3)]), SEQ, PORT, (m) =>
        seen.push(m.payload[0]!),
      ),
    4,
  );
  assert.deepEqual(seen, [1]);
});

test('messages for another sequence number or port are skipped; NOOP is skipped', () => {
  const r = read([
    ...msg(0x23, 2, [9, 0, 0, 0], SEQ + 1),
    ...msg(0x23, 2, [8, 0, 0, 0], SEQ, PORT + 1),
    ...msg(1, 0),
    ...error(0),
  ]);
  assert.deepEqual(r, { complete: [true], seen: [] });
});

test('a truncated message is an error', () => {
  const d = data(1);
  d[0] = 200; // claims more bytes than the datagram has
  throwsErrno(() => read(d), 74);
});

test('recorded kernel replies: ENODEV for a missing interface, EOPNOTSUPP for a non-WireGuard link', () => {
  for (const [name, errno] of [
    ['get-missing', 19],
    ['get-dummy', 95],
    ['family-missing', 2],
  ] as const) {
    const f = fixture(name);
    assert.equal(f.errno, errno, `${name}: the errno the recorder saw`);
    const d = bytes(f.datagrams[0]!);
    const portId = new DataView(d.buffer, d.byteOffset).getUint32(12, true);
    throwsErrno(() => readReply(d, 1000, portId, () => assert.fail('no data expected')), errno);
  }
});
