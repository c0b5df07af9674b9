// ChaCha20-Poly1305 (RFC 8439 §2.8) from OpenSSL's libcrypto, called through koffi on native
// memory: the data plane's fast AEAD. The libcrypto is node's own when the node binary exports
// it (official builds do), else the system's libcrypto.so.3.
//
// EVP has no call that seals several packets at once, so the cost per packet is the number of
// foreign calls. node:crypto builds a cipher object per packet (about 10 µs for 1440 bytes
// here); this path keeps one EVP_CIPHER_CTX per key and direction and makes four calls per
// packet, all on pointers (about 2 µs, of which OpenSSL itself takes about 1.5):
//   seal: EVP_CipherInit_ex2(nonce) · EVP_Cipher(data) · EVP_CipherFinal_ex · ctrl(GET_TAG)
//   open: EVP_CipherInit_ex2(nonce) · ctrl(SET_TAG) · EVP_Cipher(data) · EVP_CipherFinal_ex
// EVP_Cipher is the provider's one-shot update (it skips EVP_CipherUpdate's bookkeeping:
// about 500 ns less per packet, measured in C). It cannot also finish the message: called
// with no input it returns without computing the tag, so the final step is EVP_CipherFinal_ex.
//
// libsodium, when installed, does a whole packet in one call (key and nonce by pointer), which
// makes it about three times faster than EVP for small packets (TCP acknowledgements), where
// the calls dominate, and about as fast at 1420 bytes, where OpenSSL's AVX-512 code wins back
// most of what the extra calls cost (and wins for jumbo packets). SodiumChaChaPoly offers it
// with the same in-place interface.
// test/bench/dataplane.ts measures all of these against node:crypto and @noble/ciphers.
//
// A context is bound to the thread that made it (koffi and OpenSSL contexts are not shared).

import { koffi } from './libc.js';
import { allocNative, freeNative, type NativeBuffer } from './native.js';

export const CHACHA_KEY_LEN = 32;
export const CHACHA_NONCE_LEN = 12;
export const POLY1305_TAG_LEN = 16;

const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;

// Every pointer is a number declared uintptr_t (see native.ts); 0 is NULL.
interface Fns {
  newCtx: () => number;
  freeCtx: (ctx: number) => void;
  cipher: () => number;
  init: (ctx: number, type: number, key: number, iv: number, enc: number, params: number) => number;
  run: (ctx: number, out: number, inp: number, n: number) => number;
  final: (ctx: number, out: number, outl: number) => number;
  ctrl: (ctx: number, type: number, arg: number, ptr: number) => number;
}

let fns: Fns | undefined | null;

type Lib = ReturnType<ReturnType<typeof koffi>['load']>;

/**
 * The OpenSSL node itself carries: node exports its libcrypto symbols (for addons), so the
 * process's own symbol table has EVP. Using it keeps one OpenSSL in the process; loading
 * libcrypto.so.3 next to it makes that library's internal calls bind to node's exported copies
 * of the same functions, a mix of two builds. Undefined when node was built without them.
 */
export function ownOpenSSL(): Lib | undefined {
  try {
    return koffi().load(null);
  } catch {
    return undefined;
  }
}

function bind(l: Lib | undefined): Fns | undefined {
  if (!l) return undefined;
  try {
    const f: Fns = {
      newCtx: l.func('uintptr_t EVP_CIPHER_CTX_new()'),
      freeCtx: l.func('void EVP_CIPHER_CTX_free(uintptr_t ctx)'),
      cipher: l.func('uintptr_t EVP_chacha20_poly1305()'),
      init: l.func(
        'int EVP_CipherInit_ex2(uintptr_t ctx, uintptr_t type, uintptr_t key, uintptr_t iv, int enc, uintptr_t params)',
      ),
      run: l.func('int EVP_Cipher(uintptr_t ctx, uintptr_t out, uintptr_t in, unsigned int n)'),
      final: l.func('int EVP_CipherFinal_ex(uintptr_t ctx, uintptr_t out, uintptr_t outl)'),
      ctrl: l.func('int EVP_CIPHER_CTX_ctrl(uintptr_t ctx, int type, int arg, uintptr_t ptr)'),
    } as Fns;
    return f.cipher() ? f : undefined;
  } catch {
    return undefined; // a symbol is missing
  }
}

function load(): Fns | undefined {
  if (fns === undefined) {
    try {
      fns = bind(ownOpenSSL()) ?? bind(koffi().load('libcrypto.so.3')) ?? null;
    } catch {
      fns = null;
    }
  }
  return fns ?? undefined;
}

/** Whether OpenSSL's ChaCha20-Poly1305 (node's own or libcrypto.so.3) works in this thread. */
export function libcryptoAvailable(): boolean {
  return load() !== undefined;
}

// Per-thread scratch: the nonce (12 bytes at 0), an int for output lengths (at 16), and a
// staging area for keys and copies.
const NONCE = 0;
const OUTL = 16;
const STAGE = 64;
let scratch: NativeBuffer | undefined;

function stage(size: number): NativeBuffer {
  if (!scratch || scratch.size < STAGE + size) {
    if (scratch) freeNative(scratch);
    scratch = allocNative(STAGE + Math.max(size, 4096));
  }
  return scratch;
}

/** What both providers offer: in-place sealing and opening on native memory. */
export interface NativeAead {
  sealAt(
    nonce: number | Uint8Array,
    src: number,
    len: number,
    dst: number,
    ad?: number,
    adLen?: number,
  ): void;
  openAt(
    nonce: number | Uint8Array,
    src: number,
    len: number,
    dst: number,
    ad?: number,
    adLen?: number,
  ): boolean;
  free(): void;
}

/**
 * Convenience for tests and slow paths: seals a JavaScript buffer through native scratch
 * memory (two copies). `nonce` is a WireGuard counter or a whole 12-byte nonce.
 */
export function sealBytes(
  a: NativeAead,
  nonce: number | Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const s = stage(plaintext.length + POLY1305_TAG_LEN + ad.length);
  const io = s.addr + STAGE;
  const adOff = STAGE + plaintext.length + POLY1305_TAG_LEN;
  s.bytes.set(plaintext, STAGE);
  s.bytes.set(ad, adOff);
  a.sealAt(nonce, io, plaintext.length, io, s.addr + adOff, ad.length);
  const out = s.bytes.slice(STAGE, STAGE + plaintext.length + POLY1305_TAG_LEN);
  s.bytes.fill(0, STAGE, adOff + ad.length);
  return out;
}

/** Convenience: opens a JavaScript buffer; undefined when the tag does not verify. */
export function openBytes(
  a: NativeAead,
  nonce: number | Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array = new Uint8Array(0),
): Uint8Array | undefined {
  if (sealed.length < POLY1305_TAG_LEN) return undefined;
  const s = stage(sealed.length + ad.length);
  const io = s.addr + STAGE;
  const adOff = STAGE + sealed.length;
  s.bytes.set(sealed, STAGE);
  s.bytes.set(ad, adOff);
  const ok = a.openAt(nonce, io, sealed.length, io, s.addr + adOff, ad.length);
  const out = ok ? s.bytes.slice(STAGE, STAGE + sealed.length - POLY1305_TAG_LEN) : undefined;
  s.bytes.fill(0, STAGE, adOff + ad.length);
  return out;
}

/**
 * One ChaCha20-Poly1305 key in one direction. The nonce is WireGuard's: 32 zero bits and the
 * 64-bit little-endian counter (whitepaper 5.4.6). Counters must be safe integers; the caller
 * enforces the protocol's limits. Addresses are numbers (native.ts).
 */
export class EvpChaChaPoly implements NativeAead {
  private ctx: number;
  private readonly fns: Fns;
  readonly encrypt: boolean;

  constructor(key: Uint8Array, encrypt: boolean) {
    const f = load();
    if (!f) throw new Error('OpenSSL ChaCha20-Poly1305 is not available');
    if (key.length !== CHACHA_KEY_LEN) throw new RangeError(`key must be ${CHACHA_KEY_LEN} bytes`);
    this.fns = f;
    this.encrypt = encrypt;
    const ctx = f.newCtx();
    if (!ctx) throw new Error('EVP_CIPHER_CTX_new failed');
    this.ctx = ctx;
    const s = stage(CHACHA_KEY_LEN);
    s.bytes.set(key, STAGE);
    const ok = f.init(ctx, f.cipher(), s.addr + STAGE, 0, encrypt ? 1 : 0, 0);
    s.bytes.fill(0, STAGE, STAGE + CHACHA_KEY_LEN);
    if (ok !== 1) {
      f.freeCtx(ctx);
      throw new Error('EVP_CipherInit_ex2 failed');
    }
  }

  /** Starts a message: WireGuard's nonce for `counter` (or a whole 12-byte nonce), and the direction. */
  private begin(counter: number | Uint8Array, enc: number): boolean {
    const s = scratch!;
    if (typeof counter === 'number') {
      s.view.setUint32(NONCE, 0, true);
      s.view.setUint32(NONCE + 4, counter >>> 0, true);
      s.view.setUint32(NONCE + 8, Math.floor(counter / 2 ** 32), true);
    } else {
      if (counter.length !== CHACHA_NONCE_LEN)
        throw new RangeError(`nonce must be ${CHACHA_NONCE_LEN} bytes`);
      s.bytes.set(counter, NONCE);
    }
    return this.fns.init(this.ctx, 0, 0, s.addr + NONCE, enc, 0) === 1;
  }

  /**
   * Seals `len` bytes at `src` to `dst` (which may equal `src`): `len` bytes of ciphertext
   * followed by the 16-byte tag. `ad` (adLen bytes) is optional additional data.
   */
  sealAt(counter: number | Uint8Array, src: number, len: number, dst: number, ad = 0, adLen = 0): void {
    const f = this.fns;
    const ctx = this.ctx;
    if (!this.begin(counter, 1)) throw new Error('EVP_CipherInit_ex2 failed');
    if (adLen > 0 && f.run(ctx, 0, ad, adLen) < 0) throw new Error('EVP_Cipher failed');
    if (len > 0 && f.run(ctx, dst, src, len) < 0) throw new Error('EVP_Cipher failed');
    if (f.final(ctx, dst + len, scratch!.addr + OUTL) !== 1) throw new Error('EVP_CipherFinal_ex failed');
    if (f.ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, POLY1305_TAG_LEN, dst + len) !== 1)
      throw new Error('EVP_CTRL_AEAD_GET_TAG failed');
  }

  /**
   * Opens `len` bytes at `src` (ciphertext then tag) to `dst` (which may equal `src`). Returns
   * false when the tag does not verify; `dst` then holds garbage the caller must drop.
   */
  openAt(counter: number | Uint8Array, src: number, len: number, dst: number, ad = 0, adLen = 0): boolean {
    if (len < POLY1305_TAG_LEN) return false;
    const f = this.fns;
    const ctx = this.ctx;
    const n = len - POLY1305_TAG_LEN;
    if (!this.begin(counter, 0)) return false;
    if (f.ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, POLY1305_TAG_LEN, src + n) !== 1) return false;
    if (adLen > 0 && f.run(ctx, 0, ad, adLen) < 0) return false;
    if (n > 0 && f.run(ctx, dst, src, n) < 0) return false;
    return f.final(ctx, dst + n, scratch!.addr + OUTL) === 1;
  }

  seal(nonce: number | Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
    return sealBytes(this, nonce, plaintext, ad);
  }

  open(nonce: number | Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Uint8Array | undefined {
    return openBytes(this, nonce, sealed, ad);
  }

  /** Frees the context (which wipes the key schedule). Further use throws. */
  free(): void {
    if (this.ctx) this.fns.freeCtx(this.ctx);
    this.ctx = 0;
  }
}

// ---- libsodium ----

// The combined forms: ciphertext followed by the tag, our layout exactly (9 arguments; koffi's
// cost grows with the argument count, so not the detached forms).
type SodiumCall = (
  out: number,
  outLen: number,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  npub: number,
  k: number,
) => number;

/** libsodium's ChaCha20-Poly1305 (IETF) entry points: SodiumChaChaPoly here, sodium-aead.ts. */
export interface SodiumFns {
  /** (c, clen_p, m, mlen, ad, adlen, nsec, npub, k) */
  encrypt: SodiumCall;
  /** (m, mlen_p, nsec, c, clen, ad, adlen, npub, k) */
  decrypt: SodiumCall;
}

type Library = ReturnType<ReturnType<typeof koffi>['load']>;

let sodiumLib: Library | undefined | null;

/**
 * libsodium, loaded and initialised (sodium_init) once for every user in this thread
 * (ChaCha20-Poly1305 here, X25519 in x25519-raw.ts); undefined when it is not installed.
 */
export function libsodium(): Library | undefined {
  if (sodiumLib === undefined) {
    try {
      const l = koffi().load('libsodium.so.23');
      if ((l.func('int sodium_init()') as () => number)() < 0) throw new Error('sodium_init failed');
      sodiumLib = l;
    } catch {
      sodiumLib = null;
    }
  }
  return sodiumLib ?? undefined;
}

let sodium: SodiumFns | undefined | null;

function loadSodium(): SodiumFns | undefined {
  if (sodium === undefined) {
    const l = libsodium();
    sodium = null;
    // A libsodium without these symbols counts as none.
    if (l)
      try {
        sodium = {
          encrypt: l.func(
            'int crypto_aead_chacha20poly1305_ietf_encrypt(uintptr_t c, uintptr_t clen_p, uintptr_t m, uint64_t mlen, uintptr_t ad, uint64_t adlen, uintptr_t nsec, uintptr_t npub, uintptr_t k)',
          ),
          decrypt: l.func(
            'int crypto_aead_chacha20poly1305_ietf_decrypt(uintptr_t m, uintptr_t mlen_p, uintptr_t nsec, uintptr_t c, uint64_t clen, uintptr_t ad, uint64_t adlen, uintptr_t npub, uintptr_t k)',
          ),
        } as unknown as SodiumFns;
      } catch {
        // Stays null.
      }
  }
  return sodium ?? undefined;
}

/** Whether libsodium's ChaCha20-Poly1305 (IETF) is installed. */
export function libsodiumAvailable(): boolean {
  return loadSodium() !== undefined;
}

/** libsodium's ChaCha20-Poly1305 (IETF) calls, bound once per thread; undefined without it. */
export function sodiumAeadCalls(): SodiumFns | undefined {
  return loadSodium();
}

// The native memory of SodiumChaChaPoly objects (key and nonce, 64 bytes), kept for reuse,
// wiped, when an object is freed: a responder makes two keys per handshake (one per worker), and
// koffi's malloc, views and free cost more than the libsodium calls of a handshake's packets.
const KEY_MEM_SIZE = 64;
const KEY_MEM_KEPT = 256;
const keyMemPool: NativeBuffer[] = [];

function takeKeyMem(): NativeBuffer {
  return keyMemPool.pop() ?? allocNative(KEY_MEM_SIZE);
}

function giveKeyMem(m: NativeBuffer): void {
  if (keyMemPool.length >= KEY_MEM_KEPT) freeNative(m);
  else {
    m.bytes.fill(0);
    keyMemPool.push(m);
  }
}

/**
 * One ChaCha20-Poly1305 key from libsodium, one call per packet. Same interface and nonce as
 * EvpChaChaPoly; works in place (libsodium verifies before it decrypts). The key and nonce
 * live in this object's native memory, wiped by `free`.
 */
export class SodiumChaChaPoly implements NativeAead {
  private readonly fns: SodiumFns;
  private mem: NativeBuffer | undefined;
  private readonly key: number;
  private readonly nonce: number;

  constructor(key: Uint8Array) {
    const f = loadSodium();
    if (!f) throw new Error('libsodium is not available');
    if (key.length !== CHACHA_KEY_LEN) throw new RangeError(`key must be ${CHACHA_KEY_LEN} bytes`);
    this.fns = f;
    this.mem = takeKeyMem();
    this.mem.bytes.set(key, 0);
    this.key = this.mem.addr;
    this.nonce = this.mem.addr + 32;
  }

  private setNonce(counter: number | Uint8Array): void {
    const m = this.mem!;
    if (typeof counter === 'number') {
      m.view.setUint32(32, 0, true);
      m.view.setUint32(36, counter >>> 0, true);
      m.view.setUint32(40, Math.floor(counter / 2 ** 32), true);
    } else {
      if (counter.length !== CHACHA_NONCE_LEN)
        throw new RangeError(`nonce must be ${CHACHA_NONCE_LEN} bytes`);
      m.bytes.set(counter, 32);
    }
  }

  sealAt(counter: number | Uint8Array, src: number, len: number, dst: number, ad = 0, adLen = 0): void {
    this.setNonce(counter);
    if (this.fns.encrypt(dst, 0, src, len, ad, adLen, 0, this.nonce, this.key) !== 0)
      throw new Error('crypto_aead_chacha20poly1305_ietf_encrypt failed');
  }

  openAt(counter: number | Uint8Array, src: number, len: number, dst: number, ad = 0, adLen = 0): boolean {
    if (len < POLY1305_TAG_LEN) return false;
    this.setNonce(counter);
    return this.fns.decrypt(dst, 0, 0, src, len, ad, adLen, this.nonce, this.key) === 0;
  }

  seal(nonce: number | Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
    return sealBytes(this, nonce, plaintext, ad);
  }

  open(nonce: number | Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Uint8Array | undefined {
    return openBytes(this, nonce, sealed, ad);
  }

  /**
   * The key, as a view of this object's native memory (not a copy): for making another
   * provider's object of the same key (cipher.ts). Valid until `free`.
   */
  keyView(): Uint8Array {
    if (!this.mem) throw new Error('SodiumChaChaPoly used after free');
    return this.mem.bytes.subarray(0, CHACHA_KEY_LEN);
  }

  free(): void {
    if (this.mem) giveKeyMem(this.mem);
    this.mem = undefined;
  }
}
