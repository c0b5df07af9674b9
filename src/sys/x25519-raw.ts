// X25519 (RFC 7748) on raw 32-byte keys, called through koffi: the engine's handshakes install
// it (device.ts, crypto/x25519-native.ts useRawX25519) when one of its two sources is there.
//
// node:crypto computes X25519 only on KeyObjects, and building one from raw bytes costs as
// much again as the scalar multiplication (OpenSSL parses the key and, for a private key,
// computes its public key). A responder does four X25519 operations per handshake (three DHs
// and its ephemeral public key) on keys it has never seen before, so that was about half its
// X25519 time. Both sources here take the bytes as they are:
//
// - 'openssl': node's own OpenSSL, whose binary exports the functions behind its EVP X25519
//   (ossl_x25519 and ossl_x25519_public_from_private, crypto/ec/curve25519.c; the first returns
//   0 for an all-zero result, a low-order point). Not public API, so they are used only when
//   they give RFC 7748's answers (checked when first bound). Measured here (AMD EPYC, AVX-512
//   and ADX, 2 shared cores): ~27 µs per DH and ~20-23 µs per public key, against ~33-38 µs
//   and ~30-37 µs for libsodium's: OpenSSL's field arithmetic uses MULX/ADX (x25519-x86_64.pl),
//   and its public key is a fixed-base multiplication on the Edwards curve.
// - 'libsodium': crypto_scalarmult_curve25519 (-1 for an all-zero result) and
//   crypto_scalarmult_curve25519_base, which in libsodium's x86-64 build runs a Montgomery
//   ladder too (sandy2x), hence about the cost of a DH.
//
// Keys pass through one per-thread scratch buffer of native memory, wiped after each call.

import { libsodium, ownOpenSSL } from './libcrypto.js';
import { allocNative, type NativeBuffer } from './native.js';

/**
 * X25519 on raw keys, the shape crypto/x25519-native.ts `useRawX25519` takes (declared here:
 * sys may not import crypto): `sharedSecret` is undefined for an all-zero result.
 */
export interface RawX25519 {
  publicKeyOf(privateKey: Uint8Array): Uint8Array;
  sharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined;
}

const KEY = 32;
const OUT = 0;
const SCALAR = KEY;
const POINT = 2 * KEY;

export type X25519Source = 'openssl' | 'libsodium';

interface Fns {
  /** (q, n, p): q = n·p; false for an all-zero result. */
  scalarmult: (q: number, n: number, p: number) => boolean;
  /** (q, n): q = n·9. */
  base: (q: number, n: number) => void;
}

const bound = new Map<X25519Source, Fns | null>();
let scratch: NativeBuffer | undefined;

function run(
  f: (s: NativeBuffer) => boolean,
  scalar: Uint8Array,
  point?: Uint8Array,
): Uint8Array | undefined {
  if (scalar.length !== KEY || (point && point.length !== KEY))
    throw new RangeError(`X25519 keys are ${KEY} bytes`);
  scratch ??= allocNative(3 * KEY);
  const s = scratch;
  s.bytes.set(scalar, SCALAR);
  if (point) s.bytes.set(point, POINT);
  const ok = f(s);
  const out = ok ? s.bytes.slice(OUT, OUT + KEY) : undefined;
  s.bytes.fill(0);
  return out;
}

function api(f: Fns): RawX25519 {
  return {
    sharedSecret: (scalar, point) =>
      run((s) => f.scalarmult(s.addr + OUT, s.addr + SCALAR, s.addr + POINT), scalar, point),
    publicKeyOf: (scalar) => {
      const out = run((s) => {
        f.base(s.addr + OUT, s.addr + SCALAR);
        return true;
      }, scalar);
      if (!out) throw new Error('X25519 public key failed');
      return out;
    },
  };
}

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

/** RFC 7748 6.1: Alice's public key and her secret shared with Bob. */
function givesRfcAnswers(f: Fns): boolean {
  const x = api(f);
  const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bobPublic = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const pub = Buffer.from(x.publicKeyOf(alice)).toString('hex');
  const shared = x.sharedSecret(alice, bobPublic);
  return (
    pub === '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a' &&
    shared !== undefined &&
    Buffer.from(shared).toString('hex') ===
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742' &&
    x.sharedSecret(alice, new Uint8Array(KEY)) === undefined
  );
}

function bind(source: X25519Source): Fns | undefined {
  if (source === 'openssl') {
    const l = ownOpenSSL();
    if (!l) return undefined;
    const dh = l.func('int ossl_x25519(uintptr_t q, uintptr_t n, uintptr_t p)') as (
      q: number,
      n: number,
      p: number,
    ) => number;
    const base = l.func('void ossl_x25519_public_from_private(uintptr_t q, uintptr_t n)') as (
      q: number,
      n: number,
    ) => void;
    return { scalarmult: (q, n, p) => dh(q, n, p) === 1, base };
  }
  const l = libsodium();
  if (!l) return undefined;
  const dh = l.func('int crypto_scalarmult_curve25519(uintptr_t q, uintptr_t n, uintptr_t p)') as (
    q: number,
    n: number,
    p: number,
  ) => number;
  const base = l.func('int crypto_scalarmult_curve25519_base(uintptr_t q, uintptr_t n)') as (
    q: number,
    n: number,
  ) => number;
  return {
    scalarmult: (q, n, p) => dh(q, n, p) === 0,
    base: (q, n) => {
      if (base(q, n) !== 0) throw new Error('crypto_scalarmult_curve25519_base failed');
    },
  };
}

function load(source: X25519Source): Fns | undefined {
  let f = bound.get(source);
  if (f === undefined) {
    f = null;
    try {
      // A library without these symbols, or whose answers differ, counts as none.
      const b = bind(source);
      if (b && givesRfcAnswers(b)) f = b;
    } catch {
      // Stays null.
    }
    bound.set(source, f);
  }
  return f ?? undefined;
}

/**
 * `source`'s X25519 for this thread (undefined when it is not there): `sharedSecret` returns
 * undefined for an all-zero result, and both throw RangeError for keys that are not 32 bytes.
 */
export function rawX25519(source: X25519Source): RawX25519 | undefined {
  const f = load(source);
  return f && api(f);
}

/** The fastest X25519 there is on raw keys: OpenSSL's, else libsodium's, else undefined. */
export function fastestRawX25519(): { source: X25519Source; x25519: RawX25519 } | undefined {
  for (const source of ['openssl', 'libsodium'] as const) {
    const x25519 = rawX25519(source);
    if (x25519) return { source, x25519 };
  }
  return undefined;
}
