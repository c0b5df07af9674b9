// WireGuard's four message layouts (whitepaper 5.4.2-5.4.7). All integers are little-endian.
// The first four bytes are read as one little-endian u32 type, as wireguard-go and the kernel
// do, so a message with non-zero "reserved" bytes is of no known type and is dropped.
//
// Decoders never copy: they return views into the datagram. They never throw: a datagram of
// the wrong length or type yields undefined. This module is pure (no I/O, nothing heavy at
// import time) so that data-plane workers can import it.

import { COUNTER_LIMIT } from './constants.js';

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

export const KEY_LEN = 32;
export const AEAD_TAG_LEN = 16;
export const MAC_LEN = 16;
export const TIMESTAMP_LEN = 12;
export const COOKIE_NONCE_LEN = 24;
export const COOKIE_LEN = 16;

// ---- Message 1, handshake initiation (148 bytes) ----
// type(1) reserved(3) sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1(16) mac2(16)
export const INIT_SENDER = 4;
export const INIT_EPHEMERAL = 8;
export const INIT_STATIC = INIT_EPHEMERAL + KEY_LEN; // 40
export const INIT_TIMESTAMP = INIT_STATIC + KEY_LEN + AEAD_TAG_LEN; // 88
export const INIT_MAC1 = INIT_TIMESTAMP + TIMESTAMP_LEN + AEAD_TAG_LEN; // 116
export const INIT_MAC2 = INIT_MAC1 + MAC_LEN; // 132
export const INITIATION_SIZE = INIT_MAC2 + MAC_LEN; // 148

// ---- Message 2, handshake response (92 bytes) ----
// type(1) reserved(3) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1(16) mac2(16)
export const RESP_SENDER = 4;
export const RESP_RECEIVER = 8;
export const RESP_EPHEMERAL = 12;
export const RESP_EMPTY = RESP_EPHEMERAL + KEY_LEN; // 44
export const RESP_MAC1 = RESP_EMPTY + AEAD_TAG_LEN; // 60
export const RESP_MAC2 = RESP_MAC1 + MAC_LEN; // 76
export const RESPONSE_SIZE = RESP_MAC2 + MAC_LEN; // 92

// ---- Message 3, cookie reply (64 bytes) ----
// type(1) reserved(3) receiver(4) nonce(24) cookie(16+16)
export const COOKIE_RECEIVER = 4;
export const COOKIE_NONCE = 8;
export const COOKIE_ENCRYPTED = COOKIE_NONCE + COOKIE_NONCE_LEN; // 32
export const COOKIE_REPLY_SIZE = COOKIE_ENCRYPTED + COOKIE_LEN + AEAD_TAG_LEN; // 64

// ---- Message 4, transport data (16-byte header, then at least a tag) ----
// type(1) reserved(3) receiver(4) counter(8) packet(n+16)
export const DATA_RECEIVER = 4;
export const DATA_COUNTER = 8;
export const DATA_HEADER_SIZE = 16;
/** A keepalive: a header and the tag of an empty plaintext. */
export const KEEPALIVE_SIZE = DATA_HEADER_SIZE + AEAD_TAG_LEN; // 32

/** Offsets of mac1 and mac2 in a message of this type (1 or 2), for the MAC checks. */
export function macOffsets(type: number): { mac1: number; mac2: number } {
  return type === MESSAGE_INITIATION
    ? { mac1: INIT_MAC1, mac2: INIT_MAC2 }
    : { mac1: RESP_MAC1, mac2: RESP_MAC2 };
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/**
 * The message type of a datagram when its length fits that type, else 0. Handshake messages
 * have exact sizes; transport data is at least a keepalive.
 */
export function messageType(b: Uint8Array): number {
  if (b.length < 4) return 0;
  const t = u32(b, 0);
  switch (t) {
    case MESSAGE_INITIATION:
      return b.length === INITIATION_SIZE ? t : 0;
    case MESSAGE_RESPONSE:
      return b.length === RESPONSE_SIZE ? t : 0;
    case MESSAGE_COOKIE_REPLY:
      return b.length === COOKIE_REPLY_SIZE ? t : 0;
    case MESSAGE_TRANSPORT:
      return b.length >= KEEPALIVE_SIZE ? t : 0;
    default:
      return 0;
  }
}

export interface Initiation {
  sender: number;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedTimestamp: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface Response {
  sender: number;
  receiver: number;
  ephemeral: Uint8Array;
  encryptedNothing: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface CookieReply {
  receiver: number;
  nonce: Uint8Array;
  encryptedCookie: Uint8Array;
}

export function decodeInitiation(b: Uint8Array): Initiation | undefined {
  if (messageType(b) !== MESSAGE_INITIATION) return undefined;
  return {
    sender: u32(b, INIT_SENDER),
    ephemeral: b.subarray(INIT_EPHEMERAL, INIT_STATIC),
    encryptedStatic: b.subarray(INIT_STATIC, INIT_TIMESTAMP),
    encryptedTimestamp: b.subarray(INIT_TIMESTAMP, INIT_MAC1),
    mac1: b.subarray(INIT_MAC1, INIT_MAC2),
    mac2: b.subarray(INIT_MAC2, INITIATION_SIZE),
  };
}

/** Lays out an initiation with zero MACs; the caller fills them (cookie.ts). */
export function encodeInitiation(
  m: Omit<Initiation, 'mac1' | 'mac2'> & Partial<Pick<Initiation, 'mac1' | 'mac2'>>,
): Uint8Array {
  const b = new Uint8Array(INITIATION_SIZE);
  putU32(b, 0, MESSAGE_INITIATION);
  putU32(b, INIT_SENDER, m.sender);
  b.set(m.ephemeral, INIT_EPHEMERAL);
  b.set(m.encryptedStatic, INIT_STATIC);
  b.set(m.encryptedTimestamp, INIT_TIMESTAMP);
  if (m.mac1) b.set(m.mac1, INIT_MAC1);
  if (m.mac2) b.set(m.mac2, INIT_MAC2);
  return b;
}

export function decodeResponse(b: Uint8Array): Response | undefined {
  if (messageType(b) !== MESSAGE_RESPONSE) return undefined;
  return {
    sender: u32(b, RESP_SENDER),
    receiver: u32(b, RESP_RECEIVER),
    ephemeral: b.subarray(RESP_EPHEMERAL, RESP_EMPTY),
    encryptedNothing: b.subarray(RESP_EMPTY, RESP_MAC1),
    mac1: b.subarray(RESP_MAC1, RESP_MAC2),
    mac2: b.subarray(RESP_MAC2, RESPONSE_SIZE),
  };
}

export function encodeResponse(
  m: Omit<Response, 'mac1' | 'mac2'> & Partial<Pick<Response, 'mac1' | 'mac2'>>,
): Uint8Array {
  const b = new Uint8Array(RESPONSE_SIZE);
  putU32(b, 0, MESSAGE_RESPONSE);
  putU32(b, RESP_SENDER, m.sender);
  putU32(b, RESP_RECEIVER, m.receiver);
  b.set(m.ephemeral, RESP_EPHEMERAL);
  b.set(m.encryptedNothing, RESP_EMPTY);
  if (m.mac1) b.set(m.mac1, RESP_MAC1);
  if (m.mac2) b.set(m.mac2, RESP_MAC2);
  return b;
}

export function decodeCookieReply(b: Uint8Array): CookieReply | undefined {
  if (messageType(b) !== MESSAGE_COOKIE_REPLY) return undefined;
  return {
    receiver: u32(b, COOKIE_RECEIVER),
    nonce: b.subarray(COOKIE_NONCE, COOKIE_ENCRYPTED),
    encryptedCookie: b.subarray(COOKIE_ENCRYPTED, COOKIE_REPLY_SIZE),
  };
}

export function encodeCookieReply(m: CookieReply): Uint8Array {
  const b = new Uint8Array(COOKIE_REPLY_SIZE);
  putU32(b, 0, MESSAGE_COOKIE_REPLY);
  putU32(b, COOKIE_RECEIVER, m.receiver);
  b.set(m.nonce, COOKIE_NONCE);
  b.set(m.encryptedCookie, COOKIE_ENCRYPTED);
  return b;
}

/** The sender index of an initiation or a response (the receiver of a cookie reply to it). */
export function senderIndex(b: Uint8Array): number {
  return u32(b, 4);
}

/** High word of COUNTER_LIMIT (2^53): a counter whose high word reaches it is refused. */
const COUNTER_HIGH_LIMIT = COUNTER_LIMIT / 2 ** 32;

/**
 * Writes a transport header (type, receiver, little-endian 64-bit counter) at `off` of `view`:
 * the form the data plane uses on its packet slots, in place.
 */
export function writeTransportHeaderAt(view: DataView, off: number, receiver: number, counter: number): void {
  view.setUint32(off, MESSAGE_TRANSPORT, true);
  view.setUint32(off + DATA_RECEIVER, receiver >>> 0, true);
  view.setUint32(off + DATA_COUNTER, counter >>> 0, true);
  view.setUint32(off + DATA_COUNTER + 4, Math.floor(counter / 2 ** 32), true);
}

/** The counter of the transport header at `off` of `view`; -1 when at or past COUNTER_LIMIT. */
export function readTransportCounter(view: DataView, off: number): number {
  const high = view.getUint32(off + DATA_COUNTER + 4, true);
  if (high >= COUNTER_HIGH_LIMIT) return -1;
  return high * 2 ** 32 + view.getUint32(off + DATA_COUNTER, true);
}

export { putU32 as writeU32LE, u32 as readU32LE };
