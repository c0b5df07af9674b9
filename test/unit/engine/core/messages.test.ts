import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COOKIE_REPLY_SIZE,
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  INITIATION_SIZE,
  KEEPALIVE_SIZE,
  MESSAGE_TRANSPORT,
  messageType,
  RESPONSE_SIZE,
  readTransportCounter,
  writeTransportHeaderAt,
} from '../../../../src/engine/core/messages.js';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

test('sizes are the whitepaper’s', () => {
  assert.deepEqual([INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE, KEEPALIVE_SIZE], [148, 92, 64, 32]);
});

test('initiation round-trips with fields at their offsets', () => {
  const b = encodeInitiation({
    sender: 0x04030201,
    ephemeral: fill(32, 0xe0),
    encryptedStatic: fill(48, 0x5a),
    encryptedTimestamp: fill(28, 0x7a),
    mac1: fill(16, 0x11),
    mac2: fill(16, 0x22),
  });
  assert.equal(Buffer.from(b.subarray(0, 8)).toString('hex'), '0100000001020304');
  assert.equal(b[8], 0xe0);
  assert.equal(b[40], 0x5a);
  assert.equal(b[88], 0x7a);
  assert.equal(b[116], 0x11);
  assert.equal(b[147], 0x22);
  const m = decodeInitiation(b)!;
  assert.equal(m.sender, 0x04030201);
  assert.deepEqual(m.encryptedTimestamp, fill(28, 0x7a));
  assert.equal(messageType(b), 1);
});

test('response and cookie reply round-trip', () => {
  const r = encodeResponse({
    sender: 7,
    receiver: 0xffffffff,
    ephemeral: fill(32, 1),
    encryptedNothing: fill(16, 2),
  });
  assert.equal(r.length, 92);
  const d = decodeResponse(r)!;
  assert.equal(d.sender, 7);
  assert.equal(d.receiver, 0xffffffff);
  assert.deepEqual(d.mac1, fill(16, 0));
  const c = encodeCookieReply({ receiver: 9, nonce: fill(24, 3), encryptedCookie: fill(32, 4) });
  assert.equal(c.length, 64);
  assert.deepEqual(decodeCookieReply(c)!.nonce, fill(24, 3));
});

test('transport header: 64-bit little-endian counter', () => {
  const b = new Uint8Array(KEEPALIVE_SIZE);
  const v = new DataView(b.buffer);
  writeTransportHeaderAt(v, 0, 0xdeadbeef, 2 ** 40 + 5);
  assert.equal(Buffer.from(b.subarray(0, 16)).toString('hex'), '04000000efbeadde0500000000010000');
  assert.equal(readTransportCounter(v, 0), 2 ** 40 + 5);
  b.fill(0xff, 8, 16);
  assert.equal(readTransportCounter(v, 0), -1, 'beyond the safe bound');
});

test('wrong lengths, unknown types and non-zero reserved bytes are no message', () => {
  const init = new Uint8Array(148);
  init[0] = 1;
  assert.equal(messageType(init), 1);
  assert.equal(messageType(init.subarray(0, 147)), 0);
  assert.equal(messageType(new Uint8Array([...init, 0])), 0);
  init[2] = 1;
  assert.equal(messageType(init), 0, 'reserved byte set');
  assert.equal(decodeInitiation(init), undefined);
  const data = new Uint8Array(31);
  data[0] = MESSAGE_TRANSPORT;
  assert.equal(messageType(data), 0, 'shorter than a keepalive');
  assert.equal(messageType(new Uint8Array(0)), 0);
  assert.equal(messageType(Uint8Array.of(5, 0, 0, 0)), 0);
  assert.equal(decodeResponse(new Uint8Array(148)), undefined);
});

test('decoders never throw on random bytes', () => {
  for (let i = 0; i < 5000; i++) {
    const len = i % 200;
    const b = crypto.getRandomValues(new Uint8Array(len));
    if (i % 3 === 0 && len >= 4) b.set([1 + (i % 4), 0, 0, 0]);
    const t = messageType(b);
    assert.ok(t >= 0 && t <= 4);
    decodeInitiation(b);
    decodeResponse(b);
    decodeCookieReply(b);
  }
});
