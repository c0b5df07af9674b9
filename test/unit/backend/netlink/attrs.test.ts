// The netlink message and attribute layout (linux/netlink.h), checked against byte arrays
// written out by hand from the header definitions, and libmnl's room rules.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageBuilder, parseAttrs } from '../../../../src/backend/netlink/attrs.js';
import { NLM_F_ACK, NLM_F_REQUEST } from '../../../../src/backend/netlink/constants.js';
import { NetlinkError } from '../../../../src/backend/netlink/errors.js';
import { genlHeader } from '../../../../src/backend/netlink/family.js';

const le16 = (v: number) => [v & 255, v >> 8];
const le32 = (v: number) => [v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24];

test('nlmsghdr, genlmsghdr and a NUL-terminated string attribute, byte for byte', () => {
  const m = new MessageBuilder(0x15, NLM_F_REQUEST | NLM_F_ACK, 64)
    .extraHeader(genlHeader(1, 1))
    .putStrz(2, 'wg0');
  const expected = [
    ...le32(28), // nlmsg_len: 16 header + 4 genl + 8 attribute
    ...le16(0x15), // nlmsg_type: the family id
    ...le16(0x05), // NLM_F_REQUEST | NLM_F_ACK
    ...le32(7), // nlmsg_seq
    ...le32(0), // nlmsg_pid: 0, the kernel fills in nothing here
    1,
    1,
    0,
    0, // genlmsghdr: cmd 1, version 1, reserved
    ...le16(8),
    ...le16(2),
    0x77,
    0x67,
    0x30,
    0x00, // nla_len 8 ("wg0\0"), nla_type 2
  ];
  assert.deepEqual([...m.finish(7)], expected);
});

test('attributes are padded to 4 bytes but their length excludes the padding; nests carry NLA_F_NESTED', () => {
  const m = new MessageBuilder(0x20, 0, 64);
  const nest = m.nestStart(8);
  m.putU16Check(6, 51820);
  m.putU8Check(3, 24);
  m.nestEnd(nest);
  const body = [...m.finish(0)].slice(16);
  assert.deepEqual(body, [
    ...le16(4 + 8 + 8),
    ...le16(8 | 0x8000), // the nest: header + two padded attributes
    ...le16(6),
    ...le16(6),
    ...le16(51820),
    0,
    0, // u16: nla_len 6, two zero bytes of padding
    ...le16(5),
    ...le16(3),
    24,
    0,
    0,
    0, // u8: nla_len 5, three bytes of padding
  ]);
});

test('room checks follow libmnl: len + 4 + align(payload) <= size, a nest needs 4 bytes', () => {
  const m = new MessageBuilder(0x20, 0, 32); // 16 bytes of header used, 16 left
  assert.equal(m.fits(12), true);
  assert.equal(m.fits(13), false); // 13 pads to 16: 16 + 4 + 16 > 32
  assert.equal(m.putCheck(1, new Uint8Array(13)), false);
  assert.equal(m.length, 16, 'a failed put writes nothing');
  assert.equal(m.putCheck(1, new Uint8Array(8)), true); // 16 + 12 = 28
  assert.equal(m.nestStartCheck(2), 28); // 28 + 4 = 32 still fits
  assert.equal(m.nestStartCheck(3), undefined);
  assert.throws(
    () => m.putU32(4, 1),
    (e: unknown) => e instanceof NetlinkError && e.errno === 90,
  );
});

test('a cancelled nest leaves the message as it was before the nest', () => {
  const m = new MessageBuilder(0x20, 0, 128).putU32(1, 5);
  const before = m.finish(0);
  const nest = m.nestStart(8);
  m.putU32(1, 6);
  m.nestCancel(nest);
  assert.deepEqual(m.finish(0), before);
});

test('parseAttrs reads types without the flag bits and payloads without padding', () => {
  const m = new MessageBuilder(0x20, 0, 128);
  const nest = m.nestStart(9);
  m.putStrz(2, 'abc');
  m.nestEnd(nest);
  m.putU32(7, 0x01020304);
  const payload = m.finish(0).subarray(16);
  const attrs = parseAttrs(payload);
  assert.deepEqual(
    attrs.map((a) => a.type),
    [9, 7],
  );
  assert.deepEqual([...attrs[1]!.data], le32(0x01020304));
  const inner = parseAttrs(attrs[0]!.data);
  assert.equal(inner.length, 1);
  assert.deepEqual([...inner[0]!.data], [0x61, 0x62, 0x63, 0]);
});

test('a malformed attribute is an error, not skipped', () => {
  const bad = (bytes: number[]) =>
    assert.throws(
      () => parseAttrs(Uint8Array.from(bytes)),
      (e: unknown) => e instanceof NetlinkError && e.errno === 74,
    );
  bad([...le16(3), ...le16(1), 0, 0, 0, 0]); // nla_len below the header size
  bad([...le16(12), ...le16(1), 0, 0, 0, 0]); // nla_len past the end
});
