// The sliding-window replay filter for transport counters (whitepaper 5.4.6, RFC 6479 style),
// with the window of wireguard-go and the kernel: a counter more than REPLAY_WINDOW behind the
// highest one seen is rejected, and each counter inside the window is accepted once.
//
// Counters are numbers below COUNTER_LIMIT (2^53; constants.ts explains why that is safe).
// The bitmap is a ring of 32-bit words, cleared word by word as the window moves forward.
// Call `validate` only after the packet authenticated, so a forgery never moves the window.

import { COUNTER_LIMIT, REPLAY_WINDOW } from './constants.js';

const WORD_BITS = 32;
const RING_WORDS = 256; // 8192 bits ≥ REPLAY_WINDOW + one word, a power of two
const RING_MASK = RING_WORDS - 1;

export class ReplayFilter {
  private last = 0;
  private readonly ring = new Uint32Array(RING_WORDS);

  /** Forgets everything: for a fresh keypair. */
  reset(): void {
    this.last = 0;
    this.ring.fill(0);
  }

  /** True the first time a counter within the window is seen; false for replays and stale ones. */
  validate(counter: number, limit: number = COUNTER_LIMIT): boolean {
    if (!(counter >= 0 && counter < limit && counter < COUNTER_LIMIT)) return false;
    const word = Math.floor(counter / WORD_BITS);
    if (counter > this.last) {
      // Move the window forward, clearing the words it passes (at most the whole ring).
      const current = Math.floor(this.last / WORD_BITS);
      const diff = Math.min(word - current, RING_WORDS);
      for (let i = 1; i <= diff; i++) this.ring[(current + i) & RING_MASK] = 0;
      this.last = counter;
    } else if (this.last - counter > REPLAY_WINDOW) {
      return false;
    }
    const index = word & RING_MASK;
    const bit = 1 << (counter % WORD_BITS);
    const old = this.ring[index]!;
    if ((old & bit) !== 0) return false;
    this.ring[index] = old | bit;
    return true;
  }
}
