// The receive workers' gate for handshake messages (types 1-3) on their way to the main
// thread, which owns the core and alone answers them. Under a flood the main thread is the
// scarce resource, so the gate spends a little worker time to send it only what can matter:
//
//   1. A per-source budget: HANDSHAKE_SOURCE_RATE_PER_SEC with a burst of
//      HANDSHAKE_SOURCE_BURST per source address (an IPv4 address, or an IPv6 /64, as the
//      core's rate limiter groups them), so that one source cannot fill the queue to the main
//      thread and crowd out everybody else's handshakes. It comes before cookies: an attacker
//      who knows the public key but holds no cookie is still one source among many. It comes
//      first because it is the cheapest test: a flood from one source costs a hash per message.
//   2. mac1 (whitepaper 5.4.4): initiations and responses must carry
//      mac1 = MAC(HASH(LABEL_MAC1 ‖ Spub), msg[..mac1]) for this device's public key. Anyone
//      who knows the key can compute it, so this stops only blind garbage. Cookie replies carry
//      no mac1 and pass, and so does everything until the main thread names the key
//      (DataPlane.setHandshakeKey).
//   3. The rx loop then takes a place in the queue to the main thread (MAX_HANDSHAKES_IN_FLIGHT);
//      its upper half only for a quiet source (one with half its burst left, see `quiet`).
//
// A message refused for being over its source's budget (with a valid mac1: one in SHED_SAMPLE
// of those is checked) or for a full queue is "shed": the worker tells the main thread, and
// the engine declares the core under load, so the ones that do get through are answered with
// cookie replies instead of costing a DH each (the core keeps the only say on mac2 and
// cookies). Blind garbage never puts the device under load.
//
// Sources are counted in a fixed table indexed by a seeded hash (the seed is random per worker,
// so collisions with a victim's bucket cannot be aimed blindly; it is not a cryptographic PRF);
// two sources that share a bucket share its budget. Nothing here allocates per message except
// the mac1 check.

import { bytesEqual, mac } from '../../crypto/blake2s.js';
import { isV4Mapped } from '../../sys/pktinfo.js';
import { AF_INET, AF_INET6 } from '../../sys/sockaddr.js';
import { mac1Key } from '../core/mac-keys.js';
import { MAC_LEN, MESSAGE_COOKIE_REPLY, macOffsets } from '../core/messages.js';

/** Handshake messages per second one source may send to the main thread... */
export const HANDSHAKE_SOURCE_RATE_PER_SEC = 250;
/** ...with this burst (e.g. many peers behind one NAT starting at once). */
export const HANDSHAKE_SOURCE_BURST = 250;
/** Of the messages over their source's budget, one in this many has its mac1 checked. */
const SHED_SAMPLE = 64;
/** Buckets of the per-source table (a power of two). */
const SOURCE_BUCKETS = 4096;

export type Verdict = 'pass' | 'drop' | 'shed';

export class HandshakeGate {
  private key: Uint8Array | undefined;
  private readonly tokens = new Float64Array(SOURCE_BUCKETS);
  private readonly last = new Float64Array(SOURCE_BUCKETS).fill(Number.NEGATIVE_INFINITY);
  private readonly seed: number;
  private refused = 0;
  /**
   * Whether the source of the message last checked had at least half its burst left: it has
   * been sending well below its rate. When the queue to the main thread is more than half full,
   * only such sources may take the rest (rx.ts), so that a legitimate peer, which sends a
   * handshake message every few seconds, still finds room while flooding sources fill the queue.
   */
  quiet = false;

  /** `seed`: random, chosen by the main thread (workers.ts), so the worker loads no RNG. */
  constructor(seed: number) {
    this.seed = seed >>> 0;
  }

  /**
   * The device's public key changed. Undefined (the default): mac1 is not checked here (the
   * core refuses every handshake message while the device has no key).
   */
  setPublicKey(publicKey: Uint8Array | undefined): void {
    this.key = publicKey ? mac1Key(publicKey) : undefined;
  }

  /** False when the message's mac1 is wrong for this device (cookie replies have none). */
  mac1Valid(msg: Uint8Array, type: number): boolean {
    if (type === MESSAGE_COOKIE_REPLY || !this.key) return true;
    const { mac1 } = macOffsets(type);
    return bytesEqual(mac(this.key, msg.subarray(0, mac1)), msg.subarray(mac1, mac1 + MAC_LEN));
  }

  /**
   * Takes one message's worth of its source's budget; false when the source is over it. The
   * source is the sockaddr recvmmsg wrote at `bytes[name, ...)`; `now` in milliseconds.
   */
  takeSourceBudget(bytes: Uint8Array, name: number, now: number): boolean {
    const b = this.bucket(bytes, name);
    const cost = 1000 / HANDSHAKE_SOURCE_RATE_PER_SEC;
    const full = cost * HANDSHAKE_SOURCE_BURST;
    const t = Math.min(full, this.tokens[b]! + (now - this.last[b]!));
    this.last[b] = now;
    this.quiet = t >= full / 2;
    if (t < cost) {
      this.tokens[b] = t;
      return false;
    }
    this.tokens[b] = t - cost;
    return true;
  }

  /**
   * What to do with one handshake message `msg` of `type` whose source sockaddr recvmmsg
   * wrote at `bytes[name, ...)`, at `now` (ms): 'pass' it on, 'drop' it, or drop it as 'shed'
   * (over its source's budget, with a valid mac1: evidence of a flood).
   */
  check(msg: Uint8Array, type: number, bytes: Uint8Array, name: number, now: number): Verdict {
    if (!this.takeSourceBudget(bytes, name, now)) {
      if (++this.refused % SHED_SAMPLE !== 1 || !this.mac1Valid(msg, type)) return 'drop';
      return 'shed';
    }
    return this.mac1Valid(msg, type) ? 'pass' : 'drop';
  }

  /** The table bucket of the source address at `bytes[name, ...)` (port excluded). */
  private bucket(bytes: Uint8Array, name: number): number {
    const family = bytes[name]! | (bytes[name + 1]! << 8);
    let from = name + 4; // sockaddr_in: the address after family and port
    let to = from + 4;
    if (family === AF_INET6) {
      const mapped = isV4Mapped(bytes, name + 8);
      from = mapped ? name + 20 : name + 8;
      to = mapped ? from + 4 : from + 8; // IPv4, or the /64
    } else if (family !== AF_INET) to = from; // unknown: all in one bucket
    let h = this.seed ^ (to - from); // IPv4 and IPv6 apart, however the socket wrote them
    for (let i = from; i < to; i++) {
      h = Math.imul(h ^ bytes[i]!, 0x01000193);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
    return (h ^ (h >>> 16)) & (SOURCE_BUCKETS - 1);
  }
}
