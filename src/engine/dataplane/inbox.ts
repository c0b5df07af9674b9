// What the workers report that the main thread must act on, paced so that a busy data plane
// never starves the event loop (UAPI requests, timers) nor competes with the workers for the
// CPU on every packet: handshake messages are answered in slices of HANDSHAKE_SLICE_MS, and
// traffic is handed over at once after a quiet spell, then every TRAFFIC_POLL_MS while it flows.

import type { LocalAddr } from '../../sys/pktinfo.js';
import type { PathAddr } from '../core/addr.js';
import { readHandshakeBatch } from './handshake-batch.js';
import type { WorkerEvent } from './protocol.js';
import {
  monotonicMs,
  SEEN_RX_AUTH,
  SEEN_RX_DATA,
  SEEN_TX_AUTH,
  SEEN_TX_DATA,
  type Shared,
} from './shared.js';

/** The longest the main thread answers handshake messages before it lets other work run. */
const HANDSHAKE_SLICE_MS = 5;
/**
 * How long after a worker's message (the first traffic after a quiet spell: the workers post
 * one when TRAFFIC is clear, shared.ts, and none while it is set) the traffic is taken, and the
 * least time between two takes. Handing traffic to the core costs this thread a few hundred
 * microseconds on a small host; a moment later, the packet that woke it has likely made its
 * round trip (a ping through the tunnel answers within a millisecond) without competing with it.
 * A take and the next are at least this far apart.
 */
const TRAFFIC_GAP_MS = 2;
/**
 * While traffic flows, this thread takes it every TRAFFIC_POLL_MS and keeps TRAFFIC set, so the
 * workers post nothing: a steady flow, even one packet every few milliseconds (a ping), costs
 * this thread 1000 / TRAFFIC_POLL_MS wake-ups a second instead of one per packet and direction,
 * each of which took a CPU from the workers on a small host just when they forward (measured
 * with test/bench/rtt.ts on 2 cores: several hundred µs of main-thread CPU per ping and side).
 * The core then hears of traffic up to this late: its tightest use, endpoint selection's
 * liveness (core/select-constants.ts), counts in hundreds of milliseconds and more.
 */
const TRAFFIC_POLL_MS = 25;

/** What one peer moved since the last 'traffic' event that named it. */
export interface Moved {
  peer: number;
  /** When the latest authenticated packet came in / went out (dp.now()'s clock); 0: none new. */
  rxAt: number;
  txAt: number;
  /** Whether data (not only keepalives) came in / went out. */
  rxData: boolean;
  txData: boolean;
}

type HandshakeBatch = Extract<WorkerEvent, { t: 'handshakes' }>;

export class Inbox {
  /** Handshake batches from the receive workers, not yet handed to `handshake`. */
  private readonly handshakes: HandshakeBatch[] = [];
  private handshakeTurn: NodeJS.Immediate | undefined;
  private trafficTurn = false;
  /** Per peer, the activity times the last 'traffic' handed out (4 each). */
  private readonly reported: Float64Array;
  closed = false;

  constructor(
    private readonly shared: Shared,
    private readonly out: {
      /** Runs one slice of answers (its replies leave together at the end: reply-batch.ts). */
      slice(run: () => void): void;
      /**
       * One handshake message, with how many more wait behind it (in this thread's queue, in
       * flight from the workers or in their batches); the listener answers synchronously.
       */
      handshake(data: Uint8Array, from: PathAddr, local: LocalAddr | undefined, waiting: number): void;
      traffic(moved: Moved[]): void;
    },
  ) {
    this.reported = new Float64Array(shared.sizes.maxPeers * 4);
  }

  /** A peer slot starts afresh: nothing of it was reported. */
  resetPeer(peer: number): void {
    this.reported.fill(0, peer * 4, peer * 4 + 4);
  }

  handshakeBatch(e: HandshakeBatch): void {
    this.handshakes.push(e);
    this.handshakeTurn ??= setImmediate(this.answerHandshakes);
  }

  /**
   * Hands queued handshake batches over, HANDSHAKE_SLICE_MS at a time, then lets the event loop
   * run before the next slice. A worker posts a batch while this thread works through the last
   * one, and Node delivers a port's messages in one go, so answering them as they arrive kept
   * `wg show` waiting for up to a second under a flood.
   */
  private readonly answerHandshakes = (): void => {
    this.handshakeTurn = undefined;
    const until = monotonicMs() + HANDSHAKE_SLICE_MS;
    this.out.slice(() => {
      while (this.handshakes.length > 0 && !this.closed) {
        this.answerBatch(this.handshakes.shift()!);
        if (monotonicMs() >= until) break;
      }
    });
    if (this.handshakes.length > 0 && !this.closed) this.handshakeTurn = setImmediate(this.answerHandshakes);
  };

  private answerBatch(e: HandshakeBatch): void {
    let left = e.count; // queue slots still held by this batch
    try {
      readHandshakeBatch(e.buf, e.used, (data, from, local) => {
        left--;
        this.shared.releaseHandshakeSlot();
        if (from) this.out.handshake(data, from, local, this.shared.handshakesWaiting());
      });
    } finally {
      for (; left > 0; left--) this.shared.releaseHandshakeSlot();
    }
  }

  /** Some thread set TRAFFIC and noted traffic: take it TRAFFIC_GAP_MS from now. */
  trafficMoved(): void {
    if (this.trafficTurn || this.closed) return;
    this.trafficTurn = true;
    setTimeout(this.pollTraffic, TRAFFIC_GAP_MS);
  }

  /**
   * Takes what moved. Something did: TRAFFIC stays set and the next look is TRAFFIC_POLL_MS
   * away. Nothing did: TRAFFIC is cleared (the next traffic posts a message again), then the
   * bits are taken once more, for a thread that set one before the clear while TRAFFIC was set.
   */
  private readonly pollTraffic = (): void => {
    this.trafficTurn = false;
    if (this.closed) return;
    if (this.takeTraffic()) {
      this.trafficTurn = true;
      setTimeout(this.pollTraffic, TRAFFIC_POLL_MS).unref();
      return;
    }
    this.shared.clearTraffic();
    this.takeTraffic();
  };

  /** Hands over now what peers moved since the last time, if anything; true if any moved. */
  readonly takeTraffic = (): boolean => {
    if (this.closed) return false;
    const moved: Moved[] = [];
    const peers = this.shared.takeMoved();
    for (const peer of peers) {
      // Each peer's activity times (shared.ts SEEN_*): newer than what was handed out?
      const r = this.reported;
      const at = peer * 4;
      const newer = (field: number): number => {
        const t = this.shared.seen(peer, field);
        const was = r[at + field]!;
        r[at + field] = t;
        return t > was ? t : 0;
      };
      const m: Moved = {
        peer,
        rxAt: newer(SEEN_RX_AUTH),
        txAt: newer(SEEN_TX_AUTH),
        rxData: newer(SEEN_RX_DATA) > 0,
        txData: newer(SEEN_TX_DATA) > 0,
      };
      if (m.rxAt > 0 || m.txAt > 0) moved.push(m);
    }
    if (moved.length > 0) this.out.traffic(moved);
    return peers.length > 0;
  };
}
