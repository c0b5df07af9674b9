// A deterministic simulated network for endpoint-selection tests: an event queue on virtual
// time (ms), and paths between the two sides with per-direction delay, jitter, loss,
// reordering (jitter lets later datagrams overtake), duplication, blackholes and NAT
// rebinding. All randomness comes from one seeded generator, so a seed replays a run exactly.

import { Rng } from '../lib/rng.js';

export class EventQueue {
  now = 0;
  private seq = 0;
  private heap: { at: number; seq: number; fn: () => void }[] = [];
  readonly rng: Rng;

  constructor(readonly seed: number) {
    this.rng = new Rng(seed);
  }

  at(t: number, fn: () => void): void {
    const e = { at: Math.max(t, this.now), seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(h[p]!, e)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  after(ms: number, fn: () => void): void {
    this.at(this.now + ms, fn);
  }

  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private pop(): { at: number; seq: number; fn: () => void } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (!top || !last || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      if (l < h.length && this.less(h[l]!, best)) {
        m = l;
        best = h[l]!;
      }
      if (r < h.length && this.less(h[r]!, best)) m = r;
      if (m === i) break;
      h[i] = h[m]!;
      i = m;
    }
    h[i] = last;
    return top;
  }

  /** Runs every event up to and including time `t`; returns the number of events run. */
  runUntil(t: number, maxEvents = 10_000_000): number {
    let n = 0;
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > t) break;
      this.pop();
      this.now = top.at;
      top.fn();
      if (++n > maxEvents)
        throw new Error(`seed ${this.seed}: more than ${maxEvents} events by t=${this.now}`);
    }
    this.now = Math.max(this.now, t);
    return n;
  }
}

/** One direction of a path. */
export interface LinkParams {
  /** One-way delay, ms. */
  delay: number;
  /** Uniform extra delay 0..jitter ms (datagrams can overtake each other). */
  jitter: number;
  /** Probability of losing a datagram. */
  loss: number;
  /** Probability of delivering a datagram twice. */
  dup: number;
  /** Drops everything. */
  blackhole: boolean;
}

export function link(delay: number, more: Partial<LinkParams> = {}): LinkParams {
  return { delay, jitter: 0, loss: 0, dup: 0, blackhole: false, ...more };
}

/** A path: initiator-to-responder (`fwd`) and back (`rev`), and the NAT port the responder sees. */
export interface Path {
  fwd: LinkParams;
  rev: LinkParams;
  /** The initiator's source port as the responder sees it; a rebinding changes it. */
  natPort: number;
}

export interface Counters {
  sent: number;
  delivered: number;
  lost: number;
}

export class PathNet {
  readonly paths: Path[];
  readonly counters: Counters = { sent: 0, delivered: 0, lost: 0 };

  constructor(
    readonly q: EventQueue,
    paths: { fwd: LinkParams; rev?: LinkParams }[],
  ) {
    this.paths = paths.map((p, i) => ({ fwd: p.fwd, rev: p.rev ?? { ...p.fwd }, natPort: 40_000 + i * 100 }));
  }

  /** NAT rebinding: the mapping changes; packets to the old port are dropped from now on. */
  rebind(path: number): void {
    this.paths[path]!.natPort++;
  }

  /**
   * Sends a datagram along `path` in direction `dir`; `deliver` runs on arrival. Toward the
   * initiator, `toPort` must match the path's current NAT mapping.
   */
  send(path: number, dir: 'fwd' | 'rev', deliver: () => void, toPort?: number): void {
    const p = this.paths[path];
    this.counters.sent++;
    if (!p) {
      this.counters.lost++;
      return;
    }
    const l = p[dir];
    const rng = this.q.rng;
    if (l.blackhole || rng.chance(l.loss)) {
      this.counters.lost++;
      return;
    }
    const copies = rng.chance(l.dup) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const d = l.delay + (l.jitter ? rng.float() * l.jitter : 0);
      this.q.after(d, () => {
        if (dir === 'rev' && toPort !== undefined && toPort !== p.natPort) {
          this.counters.lost++;
          return;
        }
        this.counters.delivered++;
        deliver();
      });
    }
  }
}
