// Randomness from the operating system's cryptographic RNG, through node:crypto (OpenSSL's
// DRBG, seeded by getrandom). A call into node costs ~3.5 µs here whatever the size, and a
// handshake asks several times for a few bytes (an ephemeral key, an index), so small requests
// are served from a per-thread pool filled 4 KiB at a time (~0.15 µs each). Bytes handed out
// are zeroed in the pool at once, so no copy of a key stays behind there; the rest of the pool
// is bytes nobody has seen yet.

import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
/** Requests above this size go to node directly. */
const POOLED_MAX = 64;

const pool = new Uint8Array(POOL_SIZE);
let next = POOL_SIZE; // empty until first used

/** `n` bytes from the operating system's cryptographic RNG, in a new array. */
export function randomBytes(n: number): Uint8Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`bad random length ${n}`);
  if (n > POOLED_MAX) return randomFillSync(new Uint8Array(n));
  if (next + n > POOL_SIZE) {
    randomFillSync(pool);
    next = 0;
  }
  const out = pool.slice(next, next + n);
  pool.fill(0, next, next + n);
  next += n;
  return out;
}
