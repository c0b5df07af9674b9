// Per-batch accounting for a worker: bytes and activity per peer are summed locally while a
// batch is processed and written to the thread's shared row once at the end, so the shared
// memory sees a handful of atomic operations per batch rather than several per packet, and
// the main thread at most one 'traffic' message per batch (shared.ts: none while it has not
// yet taken the last one).

import { SEEN_RX_AUTH, SEEN_RX_DATA, SEEN_TX_AUTH, SEEN_TX_DATA, type Shared } from './shared.js';

export class Tally {
  private readonly rx: Float64Array;
  private readonly tx: Float64Array;
  /** Bit 0: data sent, 1: data received, 2: authenticated sent, 3: authenticated received. */
  private readonly flags: Uint8Array;
  private readonly touched: Int32Array;
  private count = 0;

  constructor(
    private readonly shared: Shared,
    private readonly thread: number,
  ) {
    const n = shared.sizes.maxPeers;
    this.rx = new Float64Array(n);
    this.tx = new Float64Array(n);
    this.flags = new Uint8Array(n);
    this.touched = new Int32Array(n);
  }

  private touch(peer: number): void {
    if (this.flags[peer] === 0 && this.rx[peer] === 0 && this.tx[peer] === 0)
      this.touched[this.count++] = peer;
  }

  /** An authenticated transport message of `bytes` (header and tag included) went out. */
  sent(peer: number, bytes: number, data: boolean): void {
    this.touch(peer);
    this.tx[peer]! += bytes;
    this.flags[peer]! |= data ? 0b0101 : 0b0100;
  }

  /** An authenticated transport message of `bytes` came in. */
  received(peer: number, bytes: number, data: boolean): void {
    this.touch(peer);
    this.rx[peer]! += bytes;
    this.flags[peer]! |= data ? 0b1010 : 0b1000;
  }

  /**
   * Writes the batch's sums to the shared row, notes the peers as moved, and starts over.
   * Returns true when the main thread must be told (post one 'traffic' message).
   */
  flush(now: number): boolean {
    const s = this.shared;
    let tell = false;
    for (let i = 0; i < this.count; i++) {
      const p = this.touched[i]!;
      s.addBytes(this.thread, p, this.rx[p]!, this.tx[p]!);
      const f = this.flags[p]!;
      if (f & 0b0001) s.markSeen(this.thread, p, SEEN_TX_DATA, now);
      if (f & 0b0010) s.markSeen(this.thread, p, SEEN_RX_DATA, now);
      if (f & 0b0100) s.markSeen(this.thread, p, SEEN_TX_AUTH, now);
      if (f & 0b1000) s.markSeen(this.thread, p, SEEN_RX_AUTH, now);
      this.rx[p] = 0;
      this.tx[p] = 0;
      this.flags[p] = 0;
      if (s.noteMoved(p)) tell = true;
    }
    this.count = 0;
    return tell;
  }
}
