// The transport AEAD as the workers use it: in place on native memory, one object per key and
// direction (sys/libcrypto.ts has the providers and why they cost what they cost).
//   'native'    libsodium (one foreign call per packet) for packets up to a standard MTU, and
//               OpenSSL's EVP (four calls, faster ChaCha20) for jumbo packets; either alone if
//               only one is there. The default. Measured per packet (test/bench/dataplane.ts,
//               nice -15 on a shared 2-core machine, median of 5): 64 bytes 0.64 µs vs 1.9 µs,
//               1024 bytes 1.6 vs 2.2, 1420 bytes 2.5 vs 2.9 (libsodium vs EVP).
//   'libcrypto' OpenSSL's EVP only.   'libsodium' libsodium only.
//   'node'      the portable fallback through node:crypto (about six times slower per packet).

import { createRequire } from 'node:module';
import { counterNonce } from '../../crypto/counter-nonce.js';
import {
  EvpChaChaPoly,
  libcryptoAvailable,
  libsodiumAvailable,
  type NativeAead,
  POLY1305_TAG_LEN,
  SodiumChaChaPoly,
} from '../../sys/libcrypto.js';
import type { NativeBuffer } from '../../sys/native.js';
import {
  DATA_HEADER_SIZE,
  KEEPALIVE_SIZE,
  readTransportCounter,
  writeTransportHeaderAt,
} from '../core/messages.js';
import type { ReplayFilter } from '../core/replay.js';
import { keypairExpired, paddedLength } from '../core/transport-rules.js';

export type CipherKind = 'native' | 'libcrypto' | 'libsodium' | 'node';

/** Packets shorter than this go to libsodium when both libraries are there. */
export const SODIUM_BELOW = 1500;

export interface PacketCipher {
  /** Seals mem[off, off+len) in place and appends the tag at off+len. */
  seal(counter: number, mem: NativeBuffer, off: number, len: number): void;
  /** Opens mem[off, off+len) (ciphertext and tag) in place; false if it does not verify. */
  open(counter: number, mem: NativeBuffer, off: number, len: number): boolean;
  free(): void;
}

export function bestCipher(): CipherKind {
  return libcryptoAvailable() || libsodiumAvailable() ? 'native' : 'node';
}

/**
 * Native providers, split by size when there are two. With both, the EVP context is made on
 * the first packet that needs it: most keypairs (every handshake's, in each worker) never carry
 * a jumbo packet, and making and freeing a context per keypair showed in a responder's profile.
 */
class NativeCipher implements PacketCipher {
  private readonly small: NativeAead;
  private large: NativeAead | undefined;
  constructor(
    kind: CipherKind,
    key: Uint8Array,
    private readonly encrypt: boolean,
  ) {
    const evp = kind !== 'libsodium' && libcryptoAvailable();
    const na = kind !== 'libcrypto' && libsodiumAvailable() ? new SodiumChaChaPoly(key) : undefined;
    if (na) {
      this.small = na;
      if (!evp) this.large = na;
    } else if (evp) {
      this.small = this.large = new EvpChaChaPoly(key, encrypt);
    } else throw new Error(`no native ChaCha20-Poly1305 for '${kind}'`);
  }
  private get big(): NativeAead {
    // Only with both providers is `large` made late, from the libsodium object's key.
    this.large ??= new EvpChaChaPoly((this.small as SodiumChaChaPoly).keyView(), this.encrypt);
    return this.large;
  }
  seal(counter: number, mem: NativeBuffer, off: number, len: number): void {
    const p = mem.addr + off;
    (len < SODIUM_BELOW ? this.small : this.big).sealAt(counter, p, len, p);
  }
  open(counter: number, mem: NativeBuffer, off: number, len: number): boolean {
    const p = mem.addr + off;
    return (len < SODIUM_BELOW + POLY1305_TAG_LEN ? this.small : this.big).openAt(counter, p, len, p);
  }
  free(): void {
    if (this.large && this.large !== this.small) this.large.free();
    this.small.free();
    this.large = undefined;
  }
}

/**
 * node:crypto, loaded for the fallback only: loading it costs each worker's heap about 1 MiB
 * (measured on Node 20), and the native providers do not need it.
 */
let nodeCrypto: typeof import('node:crypto') | undefined;
function loadNodeCrypto(): typeof import('node:crypto') {
  nodeCrypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return nodeCrypto;
}

class NodeCipher implements PacketCipher {
  private key: Uint8Array;
  private readonly nonce = new Uint8Array(12);
  private readonly crypto = loadNodeCrypto();
  constructor(key: Uint8Array) {
    this.key = Uint8Array.from(key);
  }
  seal(counter: number, mem: NativeBuffer, off: number, len: number): void {
    const c = this.crypto.createCipheriv('chacha20-poly1305', this.key, counterNonce(counter, this.nonce), {
      authTagLength: POLY1305_TAG_LEN,
    });
    const body = c.update(mem.bytes.subarray(off, off + len));
    c.final();
    mem.bytes.set(body, off);
    mem.bytes.set(c.getAuthTag(), off + len);
  }
  open(counter: number, mem: NativeBuffer, off: number, len: number): boolean {
    if (len < POLY1305_TAG_LEN) return false;
    const n = len - POLY1305_TAG_LEN;
    const d = this.crypto.createDecipheriv('chacha20-poly1305', this.key, counterNonce(counter, this.nonce), {
      authTagLength: POLY1305_TAG_LEN,
    });
    d.setAuthTag(mem.bytes.subarray(off + n, off + len));
    const body = d.update(mem.bytes.subarray(off, off + n));
    try {
      d.final();
    } catch {
      body.fill(0);
      return false;
    }
    mem.bytes.set(body, off);
    return true;
  }
  free(): void {
    this.key.fill(0);
    this.key = new Uint8Array(32);
  }
}

export function makeCipher(kind: CipherKind, key: Uint8Array, encrypt: boolean): PacketCipher {
  return kind === 'node' ? new NodeCipher(key) : new NativeCipher(kind, key, encrypt);
}

/**
 * Seals one transport message in place, the way every sender of the data plane does (the
 * transmit workers and the main thread): the plaintext is `len` bytes at `off` of `mem`, with
 * DATA_HEADER_SIZE bytes free before it and room for padding and the tag after it. Pads it
 * (transport-rules.ts), writes the header, seals; returns the datagram's length.
 */
export function sealInPlace(
  cipher: PacketCipher,
  mem: NativeBuffer,
  off: number,
  len: number,
  mtu: number,
  remoteIndex: number,
  counter: number,
): number {
  const padded = paddedLength(len, mtu);
  mem.bytes.fill(0, off + len, off + padded);
  writeTransportHeaderAt(mem.view, off - DATA_HEADER_SIZE, remoteIndex, counter);
  cipher.seal(counter, mem, off, padded);
  return DATA_HEADER_SIZE + padded + POLY1305_TAG_LEN;
}

/**
 * Opens one transport message in place, the way every receiver of the data plane does: the
 * datagram is `len` bytes at `off` of `mem`, its type and receiver index already matched to a
 * keypair created at `created`. Refuses it when the keypair is past REJECT_AFTER_TIME, when it
 * does not authenticate, or when its counter was seen (the replay window moves only for
 * authentic messages). Returns the plaintext's length (0: a keepalive), which starts at
 * off + DATA_HEADER_SIZE, or -1.
 */
export function openInPlace(
  cipher: PacketCipher,
  replay: ReplayFilter,
  created: number,
  mem: NativeBuffer,
  off: number,
  len: number,
  now: number,
): number {
  if (len < KEEPALIVE_SIZE || keypairExpired(created, now)) return -1;
  const counter = readTransportCounter(mem.view, off);
  if (counter < 0) return -1;
  if (!cipher.open(counter, mem, off + DATA_HEADER_SIZE, len - DATA_HEADER_SIZE)) return -1;
  if (!replay.validate(counter)) return -1;
  return len - KEEPALIVE_SIZE;
}
