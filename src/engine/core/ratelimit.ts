// The per-source limiter for handshake messages under load (wireguard-go ratelimiter): a token
// bucket per source (an IPv4 address, or an IPv6 /64) allowing RATELIMIT_PACKETS_PER_SEC with
// a burst of RATELIMIT_BURST. Buckets idle for a second are forgotten on `collect`.

import { RATELIMIT_BURST, RATELIMIT_PACKETS_PER_SEC } from './constants.js';

const PACKET_COST_MS = 1000 / RATELIMIT_PACKETS_PER_SEC;
const MAX_TOKENS_MS = PACKET_COST_MS * RATELIMIT_BURST;
const IDLE_MS = 1000;

interface Bucket {
  tokens: number;
  last: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  allow(source: string, now: number): boolean {
    const b = this.buckets.get(source);
    if (!b) {
      this.buckets.set(source, { tokens: MAX_TOKENS_MS - PACKET_COST_MS, last: now });
      return true;
    }
    b.tokens = Math.min(MAX_TOKENS_MS, b.tokens + Math.max(0, now - b.last));
    b.last = now;
    if (b.tokens >= PACKET_COST_MS) {
      b.tokens -= PACKET_COST_MS;
      return true;
    }
    return false;
  }

  /** Drops buckets idle for more than a second. */
  collect(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.last > IDLE_MS) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
