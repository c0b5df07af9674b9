// ChaCha20-Poly1305 (RFC 8439 §2.8) from libsodium on the handshake's small byte strings: the
// engine's handshakes install it (crypto/aead.ts useRawAead) when libsodium is there.
//
// A responder seals or opens three handshake fields per handshake (the initiator's static key,
// its timestamp and the response's empty payload), each at most 48 bytes with a 32-byte hash
// as associated data. The project's JavaScript ChaCha20-Poly1305 (crypto/chacha20poly1305-js.ts)
// took 1.4-1.7 µs for one of these when measured in a loop here, one libsodium call through
// koffi 0.7-0.9 µs; in a responder answering a flood, where the JavaScript code competes for
// the caches with everything else, it showed as about 4% of the main thread. The data plane's
// SodiumChaChaPoly (libcrypto.ts) keeps a key per object; here every call brings its own key,
// so key, nonce, associated data and message pass through one per-thread scratch buffer of
// native memory, wiped after each call.

import { sodiumAeadCalls } from './libcrypto.js';
import { allocNative, type NativeBuffer } from './native.js';

const KEY_LEN = 32;
const NONCE_LEN = 12;
const TAG_LEN = 16;
/** The largest associated data and message (tag included) this path takes. */
export const SODIUM_AEAD_MAX_AD = 64;
export const SODIUM_AEAD_MAX_SEALED = 256 + TAG_LEN;

// Layout of the scratch buffer.
const KEY = 0;
const NONCE = KEY + KEY_LEN;
const AD = 48;
const IN = AD + SODIUM_AEAD_MAX_AD;
const OUT = IN + SODIUM_AEAD_MAX_SEALED;
const SIZE = OUT + SODIUM_AEAD_MAX_SEALED;

let scratch: NativeBuffer | undefined;

const load = sodiumAeadCalls;

/** Whether libsodium's ChaCha20-Poly1305 is installed for the handshake fields. */
export function sodiumAeadAvailable(): boolean {
  return load() !== undefined;
}

/** Whether `sodiumSeal`/`sodiumOpen` take a message of `sealedLen` bytes (tag included) and `adLen`. */
export function sodiumAeadFits(sealedLen: number, adLen: number): boolean {
  return sealedLen <= SODIUM_AEAD_MAX_SEALED && adLen <= SODIUM_AEAD_MAX_AD;
}

function prepare(key: Uint8Array, nonce: Uint8Array, input: Uint8Array, ad: Uint8Array): NativeBuffer {
  if (key.length !== KEY_LEN) throw new RangeError(`AEAD key must be ${KEY_LEN} bytes`);
  if (nonce.length !== NONCE_LEN) throw new RangeError(`AEAD nonce must be ${NONCE_LEN} bytes`);
  if (input.length > SODIUM_AEAD_MAX_SEALED || ad.length > SODIUM_AEAD_MAX_AD)
    throw new RangeError('message or associated data too large for the handshake AEAD');
  scratch ??= allocNative(SIZE);
  const s = scratch;
  s.bytes.set(key, KEY);
  s.bytes.set(nonce, NONCE);
  s.bytes.set(ad, AD);
  s.bytes.set(input, IN);
  return s;
}

/**
 * ChaCha20-Poly1305 seal from libsodium: ciphertext then tag. Throws without libsodium or
 * for sizes beyond `sodiumAeadFits`.
 */
export function sodiumSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  const f = load();
  if (!f) throw new Error('libsodium is not available');
  if (plaintext.length + TAG_LEN > SODIUM_AEAD_MAX_SEALED) throw new RangeError('plaintext too large');
  const s = prepare(key, nonce, plaintext, ad);
  const a = s.addr;
  try {
    if (f.encrypt(a + OUT, 0, a + IN, plaintext.length, a + AD, ad.length, 0, a + NONCE, a + KEY) !== 0)
      throw new Error('crypto_aead_chacha20poly1305_ietf_encrypt failed');
    return s.bytes.slice(OUT, OUT + plaintext.length + TAG_LEN);
  } finally {
    s.bytes.fill(0);
  }
}

/**
 * The inverse of sodiumSeal; undefined when the tag does not verify (libsodium then writes
 * no plaintext).
 */
export function sodiumOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
): Uint8Array | undefined {
  const f = load();
  if (!f) throw new Error('libsodium is not available');
  if (sealed.length < TAG_LEN) return undefined;
  const s = prepare(key, nonce, sealed, ad);
  const a = s.addr;
  try {
    const n = sealed.length - TAG_LEN;
    if (f.decrypt(a + OUT, 0, 0, a + IN, sealed.length, a + AD, ad.length, a + NONCE, a + KEY) !== 0)
      return undefined;
    return s.bytes.slice(OUT, OUT + n);
  } finally {
    s.bytes.fill(0);
  }
}
