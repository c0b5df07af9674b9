// AEAD as WireGuard uses it (whitepaper 5.4): ChaCha20-Poly1305 (RFC 8439 §2.8) with a
// 96-bit nonce of 32 zero bits and a 64-bit little-endian counter, and XChaCha20-Poly1305
// (draft-irtf-cfrg-xchacha) for cookie replies.
//
// ChaCha20-Poly1305 runs on node:crypto (OpenSSL) when this node has it, otherwise on
// @noble/ciphers; messages of at most SMALL_MAX bytes (the handshake's, keepalives) run on
// chacha20poly1305-js.ts, which skips node's per-message cipher object (~2 µs against ~7 µs
// for a handshake field). All behave the same and are cross-checked by
// test/unit/crypto/aead.test.ts.
// XChaCha20-Poly1305 is not in OpenSSL, so it is always @noble/ciphers. Open returns undefined
// on an authentication failure; it never throws for bad input of the right sizes.

import { createCipheriv, createDecipheriv, getCiphers } from 'node:crypto';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import * as small from './chacha20poly1305-js.js';
import { counterNonce } from './counter-nonce.js';

export { counterNonce };

export const AEAD_KEY_LEN = 32;
export const AEAD_TAG_LEN = 16;
export const AEAD_NONCE_LEN = 12;
export const XAEAD_NONCE_LEN = 24;

const EMPTY = new Uint8Array(0);

/** ChaCha20-Poly1305 with an explicit 12-byte nonce. Output is ciphertext followed by the tag. */
export interface ChaChaPoly {
  readonly name: string;
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Uint8Array | undefined;
}

function checkSizes(key: Uint8Array, nonce: Uint8Array, nonceLen: number): void {
  if (key.length !== AEAD_KEY_LEN) throw new RangeError(`AEAD key must be ${AEAD_KEY_LEN} bytes`);
  if (nonce.length !== nonceLen) throw new RangeError(`AEAD nonce must be ${nonceLen} bytes`);
}

function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** OpenSSL's ChaCha20-Poly1305 through node:crypto. */
export const nodeChaChaPoly: ChaChaPoly = {
  name: 'node:crypto',
  seal(key, nonce, plaintext, ad = EMPTY) {
    checkSizes(key, nonce, AEAD_NONCE_LEN);
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LEN });
    c.setAAD(ad, { plaintextLength: plaintext.length });
    const head = c.update(plaintext);
    const tail = c.final();
    const out = new Uint8Array(plaintext.length + AEAD_TAG_LEN);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(c.getAuthTag(), plaintext.length);
    return out;
  },
  open(key, nonce, sealed, ad = EMPTY) {
    checkSizes(key, nonce, AEAD_NONCE_LEN);
    if (sealed.length < AEAD_TAG_LEN) return undefined;
    const n = sealed.length - AEAD_TAG_LEN;
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LEN });
    d.setAuthTag(sealed.subarray(n));
    d.setAAD(ad, { plaintextLength: n });
    const head = d.update(sealed.subarray(0, n));
    try {
      const tail = d.final();
      if (tail.length === 0) return view(head);
      return view(Buffer.concat([head, tail]));
    } catch {
      head.fill(0);
      return undefined;
    }
  },
};

/** The portable ChaCha20-Poly1305 of @noble/ciphers. */
export const nobleChaChaPoly: ChaChaPoly = {
  name: '@noble/ciphers',
  seal(key, nonce, plaintext, ad = EMPTY) {
    checkSizes(key, nonce, AEAD_NONCE_LEN);
    return chacha20poly1305(key, nonce, ad).encrypt(plaintext);
  },
  open(key, nonce, sealed, ad = EMPTY) {
    checkSizes(key, nonce, AEAD_NONCE_LEN);
    if (sealed.length < AEAD_TAG_LEN) return undefined;
    try {
      return chacha20poly1305(key, nonce, ad).decrypt(sealed);
    } catch {
      return undefined;
    }
  },
};

/** This project's ChaCha20-Poly1305 for small messages (chacha20poly1305-js.ts). */
export const jsChaChaPoly: ChaChaPoly = {
  name: 'chacha20poly1305-js',
  seal: (key, nonce, plaintext, ad = EMPTY) => small.seal(key, nonce, plaintext, ad),
  open: (key, nonce, sealed, ad = EMPTY) => small.open(key, nonce, sealed, ad),
};

/** The implementation in use above SMALL_MAX: OpenSSL when this node build has it. */
export const chachaPoly: ChaChaPoly = getCiphers().includes('chacha20-poly1305')
  ? nodeChaChaPoly
  : nobleChaChaPoly;

/** Plaintexts up to this size go to jsChaChaPoly (it is the faster below ~400 bytes here). */
export const SMALL_MAX = 256;

/** The nonce handed to a RawAead, which copies it before returning. */
const scratchNonce = new Uint8Array(AEAD_NONCE_LEN);

/**
 * ChaCha20-Poly1305 for small messages from elsewhere, used instead of jsChaChaPoly when
 * installed and `fits` the sizes (the engine installs libsodium's, sys/sodium-aead.ts: one
 * native call instead of the JavaScript ChaCha20 and Poly1305). Same answers, same layout.
 */
export interface RawAead {
  /** Checks the key's and nonce's sizes as ChaChaPoly does. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined;
  /** Whether a message of `sealedLen` bytes (tag included) with `adLen` bytes of AD is taken. */
  fits(sealedLen: number, adLen: number): boolean;
}

let raw: RawAead | undefined;

/** Uses `impl` for this thread's small AEAD messages from now on (undefined: the JS one again). */
export function useRawAead(impl: RawAead | undefined): void {
  raw = impl;
}

/** AEAD(key, counter, plaintext, authtext) of the whitepaper. */
export function aeadSeal(
  key: Uint8Array,
  counter: number,
  plaintext: Uint8Array,
  ad: Uint8Array = EMPTY,
): Uint8Array {
  if (plaintext.length > SMALL_MAX) return chachaPoly.seal(key, counterNonce(counter), plaintext, ad);
  if (raw?.fits(plaintext.length + AEAD_TAG_LEN, ad.length))
    return raw.seal(key, counterNonce(counter, scratchNonce), plaintext, ad);
  return jsChaChaPoly.seal(key, counterNonce(counter), plaintext, ad);
}

/** The inverse of aeadSeal; undefined when the tag does not verify. */
export function aeadOpen(
  key: Uint8Array,
  counter: number,
  sealed: Uint8Array,
  ad: Uint8Array = EMPTY,
): Uint8Array | undefined {
  if (sealed.length > SMALL_MAX + AEAD_TAG_LEN)
    return chachaPoly.open(key, counterNonce(counter), sealed, ad);
  if (raw?.fits(sealed.length, ad.length))
    return raw.open(key, counterNonce(counter, scratchNonce), sealed, ad);
  return jsChaChaPoly.open(key, counterNonce(counter), sealed, ad);
}

/** XAEAD(key, nonce, plaintext, authtext) of the whitepaper: XChaCha20-Poly1305. */
export function xaeadSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad?: Uint8Array,
): Uint8Array {
  checkSizes(key, nonce, XAEAD_NONCE_LEN);
  return xchacha20poly1305(key, nonce, ad ?? EMPTY).encrypt(plaintext);
}

export function xaeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad?: Uint8Array,
): Uint8Array | undefined {
  checkSizes(key, nonce, XAEAD_NONCE_LEN);
  if (sealed.length < AEAD_TAG_LEN) return undefined;
  try {
    return xchacha20poly1305(key, nonce, ad ?? EMPTY).decrypt(sealed);
  } catch {
    return undefined;
  }
}
