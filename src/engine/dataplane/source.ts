// Each peer's sticky source address, in shared memory: the local address (and interface) its
// latest authenticated packet arrived at, with the remote address that packet came from. Kernel
// WireGuard keeps the same pair in its endpoint (addr + src4/src6, set from every authenticated
// packet); sending to that remote from that local address keeps a multi-homed host answering
// from the address the peer wrote to, instead of whichever one routing would pick.
//
// Writers: the receive workers (a packet whose pair differs from the record), the main thread
// (a new endpoint from the UAPI or the core clears a record learned from another remote; a
// handshake reply records where the handshake arrived) and any sender whose send was refused
// because the source address is gone (pktinfo.ts `sourceRejected`: cleared, as the kernel does).
// Readers: the transmit workers, once per change (they cache the encoded ancillary data under
// the record's generation), and the main thread's sends.
//
// A record is 16 int32 cells guarded by a sequence lock: cell 0 is the generation, odd while a
// writer holds it. Writers take it with compareExchange (two writers never interleave) and every
// cell moves with Atomics, so a reader that sees the same even generation before and after its
// reads has a consistent copy. A reader never waits: a record being written counts as none.

import type { LocalAddr } from '../../sys/pktinfo.js';

/** Cells per peer: generation, family, ifindex, local address (4), remote length, remote (7), pad. */
export const SOURCE_INTS = 16;
const GEN = 0;
const FAMILY = 1;
const IFINDEX = 2;
const LOCAL_BYTE = 12; // cells 3-6
const REMOTE_LEN = 7;
const REMOTE_BYTE = 32; // cells 8-14: a sockaddr_in6 at most
const REMOTE_MAX = 28;
const LAST = 14;
/** Generations stay non-negative (and even when stable), so -1 never matches one. */
const GEN_MASK = 0x7ffffffe;
/** Attempts at taking a record that another writer holds (it holds it for a few stores). */
const LOCK_SPINS = 1000;

/** A private copy of one record: what `SourceTable.load` fills and `store` writes. */
export class SourceRecord {
  readonly ints = new Int32Array(SOURCE_INTS);
  readonly bytes = new Uint8Array(this.ints.buffer);

  /** The local address, or undefined when the record holds none. */
  local(): LocalAddr | undefined {
    const family = this.ints[FAMILY];
    if (family !== 4 && family !== 6) return undefined;
    const n = family === 4 ? 4 : 16;
    return {
      family,
      address: this.bytes.slice(LOCAL_BYTE, LOCAL_BYTE + n),
      ifindex: this.ints[IFINDEX]!,
    };
  }

  hasLocal(): boolean {
    return this.ints[FAMILY] !== 0;
  }

  /** Empties the record (no local address, no remote). */
  clear(): void {
    this.ints.fill(0);
  }

  /** Sets both halves: the remote sockaddr at `src[off, off + len)` and the local address. */
  set(src: Uint8Array, off: number, len: number, local: LocalAddr | undefined): void {
    this.ints.fill(0);
    const n = Math.min(len, REMOTE_MAX);
    this.bytes.set(src.subarray(off, off + n), REMOTE_BYTE);
    this.ints[REMOTE_LEN] = n;
    if (!local) return;
    this.ints[FAMILY] = local.family;
    this.ints[IFINDEX] = local.ifindex | 0;
    this.bytes.set(local.address.subarray(0, local.family === 4 ? 4 : 16), LOCAL_BYTE);
  }

  /**
   * Was this record learned from the remote sockaddr at `src[off, off + len)` (encoded for the
   * same socket)? Family, port and address count, and an IPv6 scope; not the flow label.
   */
  remoteIs(src: Uint8Array, off: number, len: number): boolean {
    if (len === 0 || this.ints[REMOTE_LEN] !== len) return false;
    const b = this.bytes;
    for (let i = 0; i < 4; i++) if (b[REMOTE_BYTE + i] !== src[off + i]) return false;
    const from = len === REMOTE_MAX ? 8 : 4; // sockaddr_in6: skip sin6_flowinfo
    const to = len === REMOTE_MAX ? REMOTE_MAX : 8;
    for (let i = from; i < to; i++) if (b[REMOTE_BYTE + i] !== src[off + i]) return false;
    return true;
  }

  /** Same remote and local address as `o` (the generation aside)? */
  equals(o: SourceRecord): boolean {
    for (let i = FAMILY; i <= LAST; i++) if (this.ints[i] !== o.ints[i]) return false;
    return true;
  }
}

/** The records of every peer, in cells of a shared Int32Array. */
export class SourceTable {
  private readonly scratch = new SourceRecord();
  private readonly empty = new SourceRecord();

  constructor(
    private readonly i32: Int32Array,
    private readonly base: number,
  ) {}

  private at(peer: number): number {
    return this.base + peer * SOURCE_INTS;
  }

  /** The record's generation: it changed when this differs from what a copy was made at. */
  gen(peer: number): number {
    return Atomics.load(this.i32, this.at(peer) + GEN);
  }

  /** Copies the record into `into`; returns its generation, or -1 while a writer holds it. */
  load(peer: number, into: SourceRecord): number {
    const at = this.at(peer);
    const g = Atomics.load(this.i32, at + GEN);
    if (g & 1) return -1;
    for (let i = FAMILY; i <= LAST; i++) into.ints[i] = Atomics.load(this.i32, at + i);
    return Atomics.load(this.i32, at + GEN) === g ? g : -1;
  }

  /**
   * Writes `rec` (undefined: clears) when `when(current, gen)` says so and it differs from
   * what is there; returns the generation after, or -1 when another writer held the record
   * throughout.
   */
  store(
    peer: number,
    rec: SourceRecord | undefined,
    when: (current: SourceRecord, gen: number) => boolean = () => true,
  ): number {
    const at = this.at(peer);
    let g = -1;
    for (let i = 0; i < LOCK_SPINS && g < 0; i++) {
      const seen = Atomics.load(this.i32, at + GEN);
      if (!(seen & 1) && Atomics.compareExchange(this.i32, at + GEN, seen, seen + 1) === seen) g = seen;
    }
    if (g < 0) return -1;
    const cur = this.scratch;
    for (let i = FAMILY; i <= LAST; i++) cur.ints[i] = Atomics.load(this.i32, at + i);
    const next = rec ?? this.empty;
    if (!when(cur, g) || cur.equals(next)) {
      Atomics.store(this.i32, at + GEN, g); // unchanged: the same generation again
      return g;
    }
    for (let i = FAMILY; i <= LAST; i++) Atomics.store(this.i32, at + i, next.ints[i]!);
    const after = (g + 2) & GEN_MASK;
    Atomics.store(this.i32, at + GEN, after);
    return after;
  }

  /** Forgets the record (a peer slot leaving or coming into use). */
  clear(peer: number): void {
    this.store(peer, undefined);
  }
}
