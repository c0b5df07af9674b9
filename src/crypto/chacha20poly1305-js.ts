// ChaCha20-Poly1305 (RFC 8439 §2.8) written for the handshake's small messages: a static key
// (32 bytes), a timestamp (12) or nothing, each under a 32-byte hash as additional data.
// node:crypto builds a cipher object per message, ~7 µs whatever the size; this does such a
// message in ~2 µs. aead.ts uses it up to SMALL_MAX bytes and OpenSSL above.
//
// Poly1305 (§2.5) keeps its accumulator and r in ten 13-bit limbs held in doubles: a product
// of two limbs stays below 2^30 and a sum of ten below 2^33, exact in a double, so no
// 64-bit integer is needed. Nothing branches or indexes on secret data (keys, keystream,
// accumulator); the final reduction selects with a mask, and the tag compare accumulates.
// test/unit/crypto/aead.test.ts holds it to RFC 8439 and to OpenSSL on random inputs.

export const KEY_LEN = 32;
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
const BLOCK_LEN = 64;

// §2.3: "expand 32-byte k" as four little-endian words.
const SIGMA0 = 0x61707865;
const SIGMA1 = 0x3320646e;
const SIGMA2 = 0x79622d32;
const SIGMA3 = 0x6b206574;

const input = new Int32Array(16);
const keystream = new Uint8Array(BLOCK_LEN);

function u32le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** §2.3: one ChaCha20 block of `input` (key, counter, nonce set by the caller) into `keystream`. */
function chachaBlock(): void {
  const i = input;
  let x0 = i[0]!,
    x1 = i[1]!,
    x2 = i[2]!,
    x3 = i[3]!,
    x4 = i[4]!,
    x5 = i[5]!,
    x6 = i[6]!,
    x7 = i[7]!;
  let x8 = i[8]!,
    x9 = i[9]!,
    x10 = i[10]!,
    x11 = i[11]!,
    x12 = i[12]!,
    x13 = i[13]!,
    x14 = i[14]!,
    x15 = i[15]!;
  for (let r = 0; r < 10; r++) {
    // Column rounds: QR(0, 4, 8, 12), QR(1, 5, 9, 13), QR(2, 6, 10, 14), QR(3, 7, 11, 15).
    x0 = (x0 + x4) | 0;
    x12 ^= x0;
    x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0;
    x4 ^= x8;
    x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0;
    x12 ^= x0;
    x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0;
    x4 ^= x8;
    x4 = (x4 << 7) | (x4 >>> 25);
    x1 = (x1 + x5) | 0;
    x13 ^= x1;
    x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0;
    x5 ^= x9;
    x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0;
    x13 ^= x1;
    x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0;
    x5 ^= x9;
    x5 = (x5 << 7) | (x5 >>> 25);
    x2 = (x2 + x6) | 0;
    x14 ^= x2;
    x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0;
    x6 ^= x10;
    x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0;
    x14 ^= x2;
    x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0;
    x6 ^= x10;
    x6 = (x6 << 7) | (x6 >>> 25);
    x3 = (x3 + x7) | 0;
    x15 ^= x3;
    x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0;
    x7 ^= x11;
    x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0;
    x15 ^= x3;
    x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0;
    x7 ^= x11;
    x7 = (x7 << 7) | (x7 >>> 25);
    // Diagonal rounds: QR(0, 5, 10, 15), QR(1, 6, 11, 12), QR(2, 7, 8, 13), QR(3, 4, 9, 14).
    x0 = (x0 + x5) | 0;
    x15 ^= x0;
    x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0;
    x5 ^= x10;
    x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0;
    x15 ^= x0;
    x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0;
    x5 ^= x10;
    x5 = (x5 << 7) | (x5 >>> 25);
    x1 = (x1 + x6) | 0;
    x12 ^= x1;
    x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0;
    x6 ^= x11;
    x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0;
    x12 ^= x1;
    x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0;
    x6 ^= x11;
    x6 = (x6 << 7) | (x6 >>> 25);
    x2 = (x2 + x7) | 0;
    x13 ^= x2;
    x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0;
    x7 ^= x8;
    x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0;
    x13 ^= x2;
    x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0;
    x7 ^= x8;
    x7 = (x7 << 7) | (x7 >>> 25);
    x3 = (x3 + x4) | 0;
    x14 ^= x3;
    x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0;
    x4 ^= x9;
    x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0;
    x14 ^= x3;
    x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0;
    x4 ^= x9;
    x4 = (x4 << 7) | (x4 >>> 25);
  }
  put(0, x0);
  put(1, x1);
  put(2, x2);
  put(3, x3);
  put(4, x4);
  put(5, x5);
  put(6, x6);
  put(7, x7);
  put(8, x8);
  put(9, x9);
  put(10, x10);
  put(11, x11);
  put(12, x12);
  put(13, x13);
  put(14, x14);
  put(15, x15);
}

/** Keystream word `w`: the mixed word plus the input word, little-endian. */
function put(w: number, x: number): void {
  const v = (x + input[w]!) | 0;
  const o = 4 * w;
  keystream[o] = v;
  keystream[o + 1] = v >>> 8;
  keystream[o + 2] = v >>> 16;
  keystream[o + 3] = v >>> 24;
}

/** Loads key and nonce into the ChaCha20 input; the counter is set per block. */
function setup(key: Uint8Array, nonce: Uint8Array): void {
  input[0] = SIGMA0;
  input[1] = SIGMA1;
  input[2] = SIGMA2;
  input[3] = SIGMA3;
  for (let w = 0; w < 8; w++) input[4 + w] = u32le(key, 4 * w);
  input[13] = u32le(nonce, 0);
  input[14] = u32le(nonce, 4);
  input[15] = u32le(nonce, 8);
}

/** §2.4: `src` XOR the keystream from block 1 on, into `dst` (which may be `src`). */
function xorKeystream(src: Uint8Array, dst: Uint8Array): void {
  for (let off = 0, counter = 1; off < src.length; off += BLOCK_LEN, counter++) {
    input[12] = counter;
    chachaBlock();
    const n = Math.min(BLOCK_LEN, src.length - off);
    for (let k = 0; k < n; k++) dst[off + k] = src[off + k]! ^ keystream[k]!;
  }
}

// ---- Poly1305 (§2.5) ----

const LIMB = 0x2000; // 2^13
const MASK = 0x1fff;
const r = new Float64Array(10);
const rTimes5 = new Float64Array(10); // 5·r: 2^130 ≡ 5 (mod 2^130 − 5)
const h = new Float64Array(10);

/** Ten 13-bit limbs of the 16 little-endian bytes at `b[o..]`, plus `top` at bit 128. */
function limbs(b: Uint8Array, o: number, top: number, out: Float64Array): void {
  const w0 = u32le(b, o) >>> 0;
  const w1 = u32le(b, o + 4) >>> 0;
  const w2 = u32le(b, o + 8) >>> 0;
  const w3 = u32le(b, o + 12) >>> 0;
  out[0] = w0 & MASK;
  out[1] = (w0 >>> 13) & MASK;
  out[2] = ((w0 >>> 26) | (w1 << 6)) & MASK;
  out[3] = (w1 >>> 7) & MASK;
  out[4] = ((w1 >>> 20) | (w2 << 12)) & MASK;
  out[5] = (w2 >>> 1) & MASK;
  out[6] = (w2 >>> 14) & MASK;
  out[7] = ((w2 >>> 27) | (w3 << 5)) & MASK;
  out[8] = (w3 >>> 8) & MASK;
  out[9] = (w3 >>> 21) | (top << 11);
}

const m = new Float64Array(10);
const hi = new Int32Array(10);
const g = new Int32Array(10);

/**
 * h := (h + block) · r mod 2^130 − 5, partly reduced (limbs a little above 2^13 at most):
 * d_i = Σ h_j · r_(i−j), where r_(k) for k < 0 is 5 · r_(k+10) (the wrap past 2^130).
 */
function polyBlock(b: Uint8Array, o: number): void {
  limbs(b, o, 1, m);
  const h0 = h[0]! + m[0]!;
  const h1 = h[1]! + m[1]!;
  const h2 = h[2]! + m[2]!;
  const h3 = h[3]! + m[3]!;
  const h4 = h[4]! + m[4]!;
  const h5 = h[5]! + m[5]!;
  const h6 = h[6]! + m[6]!;
  const h7 = h[7]! + m[7]!;
  const h8 = h[8]! + m[8]!;
  const h9 = h[9]! + m[9]!;
  const r0 = r[0]!;
  const r1 = r[1]!;
  const r2 = r[2]!;
  const r3 = r[3]!;
  const r4 = r[4]!;
  const r5 = r[5]!;
  const r6 = r[6]!;
  const r7 = r[7]!;
  const r8 = r[8]!;
  const r9 = r[9]!;
  const s1 = rTimes5[1]!;
  const s2 = rTimes5[2]!;
  const s3 = rTimes5[3]!;
  const s4 = rTimes5[4]!;
  const s5 = rTimes5[5]!;
  const s6 = rTimes5[6]!;
  const s7 = rTimes5[7]!;
  const s8 = rTimes5[8]!;
  const s9 = rTimes5[9]!;
  const d0 =
    h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6 + h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1;
  const d1 =
    h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7 + h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2;
  const d2 =
    h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8 + h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3;
  const d3 =
    h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9 + h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4;
  const d4 =
    h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5;
  const d5 =
    h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6;
  const d6 =
    h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2 + h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7;
  const d7 =
    h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3 + h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8;
  const d8 =
    h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4 + h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9;
  const d9 =
    h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5 + h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
  let c = 0;
  let v = 0;
  v = d0 + c;
  c = Math.floor(v / LIMB);
  h[0] = v - c * LIMB;
  v = d1 + c;
  c = Math.floor(v / LIMB);
  h[1] = v - c * LIMB;
  v = d2 + c;
  c = Math.floor(v / LIMB);
  h[2] = v - c * LIMB;
  v = d3 + c;
  c = Math.floor(v / LIMB);
  h[3] = v - c * LIMB;
  v = d4 + c;
  c = Math.floor(v / LIMB);
  h[4] = v - c * LIMB;
  v = d5 + c;
  c = Math.floor(v / LIMB);
  h[5] = v - c * LIMB;
  v = d6 + c;
  c = Math.floor(v / LIMB);
  h[6] = v - c * LIMB;
  v = d7 + c;
  c = Math.floor(v / LIMB);
  h[7] = v - c * LIMB;
  v = d8 + c;
  c = Math.floor(v / LIMB);
  h[8] = v - c * LIMB;
  v = d9 + c;
  c = Math.floor(v / LIMB);
  h[9] = v - c * LIMB;
  // The carry out of limb 9 is a multiple of 2^130, i.e. 5 times itself.
  v = h[0]! + 5 * c;
  c = Math.floor(v / LIMB);
  h[0] = v - c * LIMB;
  h[1] = h[1]! + c;
}

const clamped = new Uint8Array(16);
const last = new Uint8Array(16);

/** Starts Poly1305 under the one-time key `otk` (r from its first half, clamped as §2.5.1 says). */
function polyKey(otk: Uint8Array): void {
  // The top four bits of bytes 3, 7, 11, 15 and the low two bits of bytes 4, 8, 12 cleared.
  clamped.set(otk.subarray(0, 16));
  clamped[3]! &= 15;
  clamped[7]! &= 15;
  clamped[11]! &= 15;
  clamped[15]! &= 15;
  clamped[4]! &= 252;
  clamped[8]! &= 252;
  clamped[12]! &= 252;
  limbs(clamped, 0, 0, r);
  clamped.fill(0);
  for (let i = 0; i < 10; i++) rTimes5[i] = 5 * r[i]!;
  h.fill(0);
}

/** Absorbs `data` zero-padded to a multiple of 16 bytes (§2.8's pad16). */
function polyPadded(data: Uint8Array): void {
  const full = data.length & ~15;
  for (let o = 0; o < full; o += 16) polyBlock(data, o);
  if (full === data.length) return;
  last.fill(0);
  last.set(data.subarray(full));
  polyBlock(last, 0);
}

/** The tag, (h mod p + s) mod 2^128, with s the second half of `otk`; wipes the state. */
function polyFinish(otk: Uint8Array, tag: Uint8Array): void {
  // Full carry (limbs below 2^13), then h − p if h ≥ p: g = h + 5 carries out of 2^130 then.
  let c = 0;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < 10; i++) {
      const v = h[i]! + c;
      c = Math.floor(v / LIMB);
      h[i] = v - c * LIMB;
    }
    h[0] = h[0]! + 5 * c;
    c = 0;
  }
  for (let i = 0; i < 10; i++) hi[i] = h[i]!;
  c = 5;
  for (let i = 0; i < 10; i++) {
    const v = hi[i]! + c;
    c = v >>> 13;
    g[i] = v & MASK;
  }
  // c is 1 exactly when h + 5 ≥ 2^130, i.e. h ≥ p: take g then.
  const take = -c;
  for (let i = 0; i < 10; i++) hi[i] = (hi[i]! & ~take) | (g[i]! & take);
  // (h + s) mod 2^128, little-endian.
  let acc = 0;
  let bits = 0;
  let k = 0;
  let carry = 0;
  for (let i = 0; i < 10 && k < 16; i++) {
    acc |= hi[i]! << bits;
    bits += 13;
    while (bits >= 8 && k < 16) {
      const t = (acc & 0xff) + otk[16 + k]! + carry;
      tag[k++] = t & 0xff;
      carry = t >>> 8;
      acc >>>= 8;
      bits -= 8;
    }
  }
  h.fill(0);
  m.fill(0);
  r.fill(0);
  rTimes5.fill(0);
  hi.fill(0);
  g.fill(0);
}

/** §2.8: the tag of (ad, ct), Poly1305 under block 0's first 32 bytes, over
 * AD ‖ pad16 ‖ ciphertext ‖ pad16 ‖ le64(|AD|) ‖ le64(|ciphertext|).
 */
function tagOf(ad: Uint8Array, ct: Uint8Array, tag: Uint8Array): void {
  input[12] = 0;
  chachaBlock();
  polyKey(keystream);
  polyPadded(ad);
  polyPadded(ct);
  le64(ad.length, last, 0);
  le64(ct.length, last, 8);
  polyBlock(last, 0);
  polyFinish(keystream, tag);
  last.fill(0);
}

function le64(n: number, out: Uint8Array, o: number): void {
  const lo = n >>> 0;
  const hi32 = Math.floor(n / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    out[o + i] = lo >>> (8 * i);
    out[o + 4 + i] = hi32 >>> (8 * i);
  }
}

function check(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== KEY_LEN) throw new RangeError(`AEAD key must be ${KEY_LEN} bytes`);
  if (nonce.length !== NONCE_LEN) throw new RangeError(`AEAD nonce must be ${NONCE_LEN} bytes`);
}

function wipe(): void {
  input.fill(0);
  keystream.fill(0);
}

/** Ciphertext followed by the 16-byte tag. */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  check(key, nonce);
  setup(key, nonce);
  const out = new Uint8Array(plaintext.length + TAG_LEN);
  const ct = out.subarray(0, plaintext.length);
  xorKeystream(plaintext, ct);
  tagOf(ad, ct, out.subarray(plaintext.length));
  wipe();
  return out;
}

/** The plaintext, or undefined when the tag does not verify (nothing is decrypted then). */
export function open(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
): Uint8Array | undefined {
  check(key, nonce);
  if (sealed.length < TAG_LEN) return undefined;
  const n = sealed.length - TAG_LEN;
  setup(key, nonce);
  const ct = sealed.subarray(0, n);
  const want = new Uint8Array(TAG_LEN);
  tagOf(ad, ct, want);
  let diff = 0;
  for (let i = 0; i < TAG_LEN; i++) diff |= want[i]! ^ sealed[n + i]!;
  if (diff !== 0) {
    wipe();
    return undefined;
  }
  const out = new Uint8Array(n);
  xorKeystream(ct, out);
  wipe();
  return out;
}

/**
 * Poly1305 of `data` (a multiple of 16 bytes, each block taken with the 2^128 bit, as the
 * AEAD's padded input always is) under `otk`. For tests of the reduction's edge cases.
 */
export function poly1305Aligned(otk: Uint8Array, data: Uint8Array): Uint8Array {
  if (otk.length !== 32 || data.length % 16 !== 0) throw new RangeError('32-byte key, 16-byte blocks');
  const tag = new Uint8Array(TAG_LEN);
  polyKey(otk);
  polyPadded(data);
  polyFinish(otk, tag);
  return tag;
}
