// BLAKE2s as WireGuard uses it (whitepaper 5.4, "Symbols and functions"):
//   HASH(input)        = BLAKE2s(input, 32)
//   MAC(key, input)    = Keyed-BLAKE2s(key, input, 16)
//   HMAC(key, input)   = HMAC-BLAKE2s(key, input, 32)      (RFC 2104, 64-byte block)
//   KDFn(key, input)   = τ1..τn with τ0 = HMAC(key, input), τi = HMAC(τ0, τi−1 ‖ i)  (HKDF, RFC 5869)
//
// All three run on blake2s-js.ts, this project's BLAKE2s for small inputs (per call ~4x faster
// than OpenSSL's through node:crypto and ~10x faster than @noble/hashes, measured there);
// test/unit/crypto/blake2s.test.ts holds it to RFC 7693, wireguard-go, OpenSSL and @noble/hashes.

import { blake2s, hmacKeyState, hmacBlake2s as hmacParts, hmacWithState } from './blake2s-js.js';

export const HASH_LEN = 32;
export const MAC_LEN = 16;

/** HASH(a ‖ b ‖ ...): BLAKE2s-256 of the concatenation. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  return blake2s(parts, HASH_LEN);
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte output. `key` is 1 to 32 bytes. */
export function mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  if (key.length === 0) throw new RangeError('MAC key must be 1 to 32 bytes');
  return blake2s(parts, MAC_LEN, key);
}

/** HMAC(key, input) with BLAKE2s-256. */
export function hmacBlake2s(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return hmacParts(key, parts);
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/**
 * A KDF key whose HMAC state is computed once (blake2s-js.ts hmacKeyState): for a constant
 * that many KDFs start from, Ci := HASH(CONSTRUCTION). Only with a non-empty input.
 */
export class PreparedKey {
  readonly state: Int32Array;
  constructor(key: Uint8Array) {
    this.state = hmacKeyState(key);
  }
}

/** τ0 = HMAC(key, input). */
function first(key: Uint8Array | PreparedKey, input: Uint8Array): Uint8Array {
  return key instanceof PreparedKey ? hmacWithState(key.state, [input]) : hmacParts(key, [input]);
}

/** KDF1(key, input) = τ1. */
export function kdf1(key: Uint8Array | PreparedKey, input: Uint8Array): Uint8Array {
  const t0 = first(key, input);
  const t1 = hmacParts(t0, [ONE]);
  t0.fill(0);
  return t1;
}

// KDF2 and KDF3 MAC two or three blocks under τ0: its HMAC state is prepared once (two
// compressions fewer per block after the first; a responder saves ten of about a hundred per
// handshake this way).

/** KDF2(key, input) = (τ1, τ2). */
export function kdf2(key: Uint8Array | PreparedKey, input: Uint8Array): [Uint8Array, Uint8Array] {
  const t0 = first(key, input);
  const s = hmacKeyState(t0);
  t0.fill(0);
  const t1 = hmacWithState(s, [ONE]);
  const t2 = hmacWithState(s, [t1, TWO]);
  s.fill(0);
  return [t1, t2];
}

/** KDF3(key, input) = (τ1, τ2, τ3). */
export function kdf3(key: Uint8Array | PreparedKey, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const t0 = first(key, input);
  const s = hmacKeyState(t0);
  t0.fill(0);
  const t1 = hmacWithState(s, [ONE]);
  const t2 = hmacWithState(s, [t1, TWO]);
  const t3 = hmacWithState(s, [t2, THREE]);
  s.fill(0);
  return [t1, t2, t3];
}

/** Constant-time equality of two byte strings of equal length (false if lengths differ). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}
