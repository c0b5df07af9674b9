import { randomFillSync } from 'node:crypto';

/** Bytes from the operating system's cryptographic RNG (getrandom). */
export function randomBytes(n: number): Uint8Array {
  return randomFillSync(new Uint8Array(n));
}
