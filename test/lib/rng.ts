// Seeded randomness for the property and fuzz tests: xorshift32, so that a failing case can be
// replayed from its seed.

/** xorshift32: small, seedable, good enough to pick test cases. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  /** 0 <= n < max */
  int(max: number): number {
    return Math.floor(this.float() * max);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  /** 0 <= x < 1 */
  float(): number {
    return this.u32() / 0x100000000;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** xorshift32 as a function returning 0 <= x < 1 (the first value is the first step, not the seed). */
export function xorshift32(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.float();
}

/** A seed from the environment (WGM_SEED) or the clock, printed by the caller on failure. */
export function testSeed(): number {
  const fromEnv = Number.parseInt(process.env['WGM_SEED'] ?? '', 10);
  return Number.isFinite(fromEnv) ? fromEnv >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
}
