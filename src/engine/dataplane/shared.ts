// The memory the main thread and the data-plane workers share (SharedArrayBuffer + Atomics).
// Everything that changes per packet lives here; everything that changes on configuration
// travels as a message instead (protocol.ts).
//
// Threads are numbered: 0 is the main thread, 1..T the transmit workers, T+1..T+R the receive
// workers. Each thread writes only its own row of the statistics, so rows need no locking and
// the main thread sums them. Each keypair's send counter is a cell of its own (a one-element
// BigInt64Array on a SharedArrayBuffer, shared with the core) taken with Atomics.add, so no two
// threads ever seal with the same nonce.
//
// int32 area:   STOP · HANDSHAKES_IN_FLIGHT · TRAFFIC · SENT[thread] · APPLIED[thread]
//               · SEND_KEYPAIR[peer] · SOURCE[peer][SOURCE_INTS] (each peer's sticky source
//               address: source.ts) · MOVED[peer / 32] (a bit per peer with traffic not yet
//               handed to the core)
//
// Traffic reaches the main thread as events, not a poll: a thread that moved transport for
// a peer sets the peer's MOVED bit at the end of its batch and, if TRAFFIC was clear, sets it
// and posts one 'traffic' message. The main thread takes the MOVED bits, and keeps TRAFFIC set
// while taking them finds some (inbox.ts looks again a while later); once a take finds none it
// clears TRAFFIC, then takes the bits once more. While TRAFFIC is set, batches only set bits,
// so a busy tunnel costs the main thread one wake-up per round it takes, however many packets
// move, and its workers post nothing.
// bigint64 area: BYTES[thread][peer][rx, tx] · SEEN[thread][peer][4]

import { SOURCE_INTS, SourceTable } from './source.js';

export interface SharedSizes {
  maxPeers: number;
  maxKeypairs: number;
  /** Threads including the main thread. */
  threads: number;
}

/** Indices into a peer's SEEN record: monotonic milliseconds (DataPlane.now) of the last... */
export const SEEN_TX_DATA = 0; // ...data packet sent (not a keepalive)
export const SEEN_RX_DATA = 1; // ...data packet received (not a keepalive)
export const SEEN_TX_AUTH = 2; // ...authenticated packet sent (data or keepalive)
export const SEEN_RX_AUTH = 3; // ...authenticated packet received (data or keepalive)
const SEEN_FIELDS = 4;

const STOP = 0;
const HANDSHAKES_IN_FLIGHT = 1;
const TRAFFIC = 2;
const HEADER_INTS = 3;

export const NO_KEYPAIR = -1;

export interface SharedBuffers {
  ints: SharedArrayBuffer;
  bigs: SharedArrayBuffer;
  sizes: SharedSizes;
}

export class Shared {
  readonly sizes: SharedSizes;
  readonly buffers: SharedBuffers;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly sentAt: number;
  private readonly appliedAt: number;
  private readonly sendKeypairAt: number;
  private readonly bytesAt: number;
  private readonly seenAt: number;
  private readonly movedAt: number;
  /** Each peer's sticky source address (source.ts). */
  readonly sources: SourceTable;

  constructor(buffers: SharedBuffers) {
    const { maxPeers, threads } = buffers.sizes;
    this.sizes = buffers.sizes;
    this.buffers = buffers;
    this.i32 = new Int32Array(buffers.ints);
    this.i64 = new BigInt64Array(buffers.bigs);
    this.sentAt = HEADER_INTS;
    this.appliedAt = this.sentAt + threads;
    this.sendKeypairAt = this.appliedAt + threads;
    this.bytesAt = 0;
    this.seenAt = this.bytesAt + threads * maxPeers * 2;
    this.sources = new SourceTable(this.i32, this.sendKeypairAt + maxPeers);
    this.movedAt = this.sendKeypairAt + maxPeers * (1 + SOURCE_INTS);
    if (
      this.i32.length < this.movedAt + movedWords(maxPeers) ||
      this.i64.length < this.seenAt + threads * maxPeers * SEEN_FIELDS
    )
      throw new RangeError('shared buffers too small for their sizes');
  }

  static create(sizes: SharedSizes): Shared {
    const { maxPeers, threads } = sizes;
    const ints = new SharedArrayBuffer(
      4 * (HEADER_INTS + 2 * threads + maxPeers * (1 + SOURCE_INTS) + movedWords(maxPeers)),
    );
    const bigs = new SharedArrayBuffer(8 * threads * maxPeers * (2 + SEEN_FIELDS));
    const s = new Shared({ ints, bigs, sizes });
    for (let p = 0; p < maxPeers; p++) s.i32[s.sendKeypairAt + p] = NO_KEYPAIR;
    return s;
  }

  // ---- Run state ----

  get stopped(): boolean {
    return Atomics.load(this.i32, STOP) !== 0;
  }

  stop(): void {
    Atomics.store(this.i32, STOP, 1);
  }

  /** Takes a slot for one handshake message on its way to the main thread; false when full. */
  takeHandshakeSlot(limit: number): boolean {
    if (Atomics.add(this.i32, HANDSHAKES_IN_FLIGHT, 1) < limit) return true;
    Atomics.sub(this.i32, HANDSHAKES_IN_FLIGHT, 1);
    return false;
  }

  releaseHandshakeSlot(): void {
    Atomics.sub(this.i32, HANDSHAKES_IN_FLIGHT, 1);
  }

  /** Handshake messages on their way to the main thread or waiting there (slots taken). */
  handshakesWaiting(): number {
    return Atomics.load(this.i32, HANDSHAKES_IN_FLIGHT);
  }

  // ---- Control messages: how many were posted to a thread, and how many it has applied ----

  noteSent(thread: number): number {
    return Atomics.add(this.i32, this.sentAt + thread, 1) + 1;
  }

  sent(thread: number): number {
    return Atomics.load(this.i32, this.sentAt + thread);
  }

  noteApplied(thread: number, count: number): void {
    Atomics.store(this.i32, this.appliedAt + thread, count);
  }

  applied(thread: number): number {
    return Atomics.load(this.i32, this.appliedAt + thread);
  }

  // ---- The keypair each peer sends with ----

  sendKeypair(peer: number): number {
    return Atomics.load(this.i32, this.sendKeypairAt + peer);
  }

  setSendKeypair(peer: number, slot: number): void {
    Atomics.store(this.i32, this.sendKeypairAt + peer, slot);
  }

  /** Makes `slot` the peer's sending keypair unless someone changed it since `expected`. */
  promoteSendKeypair(peer: number, expected: number, slot: number): boolean {
    return Atomics.compareExchange(this.i32, this.sendKeypairAt + peer, expected, slot) === expected;
  }

  // ---- Byte counters and activity times, one row per thread ----

  addBytes(thread: number, peer: number, rx: number, tx: number): void {
    const at = this.bytesAt + (thread * this.sizes.maxPeers + peer) * 2;
    if (rx) Atomics.add(this.i64, at, BigInt(rx));
    if (tx) Atomics.add(this.i64, at + 1, BigInt(tx));
  }

  /** Total bytes over every thread's row. */
  bytes(peer: number): { rx: bigint; tx: bigint } {
    let rx = 0n;
    let tx = 0n;
    for (let t = 0; t < this.sizes.threads; t++) {
      const at = this.bytesAt + (t * this.sizes.maxPeers + peer) * 2;
      rx += Atomics.load(this.i64, at);
      tx += Atomics.load(this.i64, at + 1);
    }
    return { rx, tx };
  }

  markSeen(thread: number, peer: number, field: number, ms: number): void {
    Atomics.store(
      this.i64,
      this.seenAt + (thread * this.sizes.maxPeers + peer) * SEEN_FIELDS + field,
      BigInt(ms),
    );
  }

  /** The latest time over every thread's row; 0 = never. */
  seen(peer: number, field: number): number {
    let best = 0n;
    for (let t = 0; t < this.sizes.threads; t++) {
      const v = Atomics.load(this.i64, this.seenAt + (t * this.sizes.maxPeers + peer) * SEEN_FIELDS + field);
      if (v > best) best = v;
    }
    return Number(best);
  }

  // ---- Traffic events ----

  /**
   * Notes that `peer` moved traffic (its counters and times are written already). Returns true
   * when the main thread must be told (TRAFFIC was clear): post one 'traffic' message then.
   */
  noteMoved(peer: number): boolean {
    Atomics.or(this.i32, this.movedAt + (peer >>> 5), 1 << (peer & 31));
    return Atomics.load(this.i32, TRAFFIC) === 0 && Atomics.compareExchange(this.i32, TRAFFIC, 0, 1) === 0;
  }

  /**
   * The main thread, when a take found nothing: the next thread that moves traffic posts a
   * message again. Take the bits once more after this (a thread may have set one just before).
   */
  clearTraffic(): void {
    Atomics.store(this.i32, TRAFFIC, 0);
  }

  /** The main thread: takes and returns the peers whose bit was set (TRAFFIC stays as it is). */
  takeMoved(): number[] {
    const out: number[] = [];
    const words = movedWords(this.sizes.maxPeers);
    for (let w = 0; w < words; w++) {
      if (Atomics.load(this.i32, this.movedAt + w) === 0) continue;
      let bits = Atomics.exchange(this.i32, this.movedAt + w, 0);
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        bits &= ~(1 << b);
        out.push(w * 32 + b);
      }
    }
    return out;
  }

  /** Zeroes a peer's counters and times in every row (only for a peer no thread uses). */
  clearPeer(peer: number): void {
    for (let t = 0; t < this.sizes.threads; t++) {
      const b = this.bytesAt + (t * this.sizes.maxPeers + peer) * 2;
      Atomics.store(this.i64, b, 0n);
      Atomics.store(this.i64, b + 1, 0n);
      const s = this.seenAt + (t * this.sizes.maxPeers + peer) * SEEN_FIELDS;
      for (let f = 0; f < SEEN_FIELDS; f++) Atomics.store(this.i64, s + f, 0n);
    }
    this.setSendKeypair(peer, NO_KEYPAIR);
    this.sources.clear(peer);
  }
}

function movedWords(maxPeers: number): number {
  return Math.ceil(maxPeers / 32);
}

// performance.now() is cheap but counts from this thread's own start; hrtime is the process-wide
// CLOCK_MONOTONIC. Their difference, taken once per thread, turns the first into the second.
// The thread may be preempted between the two reads, so take the tightest of a few samples.
function clockOffset(): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 16; i++) {
    const before = performance.now();
    const [s, ns] = process.hrtime();
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = s * 1000 + ns / 1e6 - (before + after) / 2;
    }
  }
  return offset;
}
const offset = clockOffset();

/** Monotonic milliseconds, the same clock in every thread (CLOCK_MONOTONIC). */
export function monotonicMs(): number {
  return Math.floor(performance.now() + offset);
}
