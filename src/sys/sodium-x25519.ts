// X25519 (RFC 7748) from libsodium, called through koffi on raw 32-byte keys: the engine's
// handshakes install it (crypto/x25519-native.ts useRawX25519) when libsodium is there.
//
// node:crypto computes X25519 only on KeyObjects, and building one from raw bytes costs as
// much again as the scalar multiplication (OpenSSL parses the key and, for a private key,
// computes its public key). A responder does four X25519 operations per handshake (three DHs
// and its ephemeral public key) on keys it has never seen before, so that was about half its
// X25519 time. libsodium takes the bytes as they are: crypto_scalarmult_curve25519 (which
// refuses a result of all zeros, a low-order point, with -1) and
// crypto_scalarmult_curve25519_base (a fixed-base multiplication, faster than the general one).
//
// Keys pass through one per-thread scratch buffer of native memory, wiped after each call.

import { libsodium } from './libcrypto.js';
import { allocNative, type NativeBuffer } from './native.js';

const KEY = 32;
const OUT = 0;
const SCALAR = KEY;
const POINT = 2 * KEY;

interface Fns {
  /** (q, n, p): q = n·p; -1 for an all-zero result. */
  scalarmult: (q: number, n: number, p: number) => number;
  /** (q, n): q = n·9. */
  base: (q: number, n: number) => number;
}

let fns: Fns | undefined | null;
let scratch: NativeBuffer | undefined;

function load(): Fns | undefined {
  if (fns === undefined) {
    const l = libsodium();
    fns = null;
    // A libsodium without these symbols counts as none.
    if (l)
      try {
        fns = {
          scalarmult: l.func('int crypto_scalarmult_curve25519(uintptr_t q, uintptr_t n, uintptr_t p)'),
          base: l.func('int crypto_scalarmult_curve25519_base(uintptr_t q, uintptr_t n)'),
        } as unknown as Fns;
      } catch {
        // Stays null.
      }
  }
  return fns ?? undefined;
}

/** Whether libsodium's X25519 is installed. */
export function sodiumX25519Available(): boolean {
  return load() !== undefined;
}

function run(f: (s: NativeBuffer) => number, scalar: Uint8Array, point?: Uint8Array): Uint8Array | undefined {
  if (scalar.length !== KEY || (point && point.length !== KEY))
    throw new RangeError(`X25519 keys are ${KEY} bytes`);
  scratch ??= allocNative(3 * KEY);
  const s = scratch;
  s.bytes.set(scalar, SCALAR);
  if (point) s.bytes.set(point, POINT);
  const r = f(s);
  const out = r === 0 ? s.bytes.slice(OUT, OUT + KEY) : undefined;
  s.bytes.fill(0);
  return out;
}

/** X25519(scalar, point) from libsodium; undefined for a low-order point. Throws without libsodium. */
export function sodiumSharedSecret(scalar: Uint8Array, point: Uint8Array): Uint8Array | undefined {
  const f = load();
  if (!f) throw new Error('libsodium is not available');
  return run((s) => f.scalarmult(s.addr + OUT, s.addr + SCALAR, s.addr + POINT), scalar, point);
}

/** X25519(scalar, 9) from libsodium. Throws without libsodium. */
export function sodiumPublicKeyOf(scalar: Uint8Array): Uint8Array {
  const f = load();
  if (!f) throw new Error('libsodium is not available');
  const out = run((s) => f.base(s.addr + OUT, s.addr + SCALAR), scalar);
  if (!out) throw new Error('crypto_scalarmult_curve25519_base failed');
  return out;
}
