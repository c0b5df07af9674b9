// One simulated world: a wgm side (the real engine core, wgm-side.ts), a standard peer, the
// paths between them, and application traffic. Shared by the scenario and fuzz tests.

import { EventQueue, type LinkParams, PathNet } from './net.js';
import { type App, StandardPeer } from './responder.js';
import { type WgmOptions, WgmSide } from './wgm-side.js';

export interface WorldOptions extends WgmOptions {
  app?: App;
}

export class World {
  readonly q: EventQueue;
  readonly net: PathNet;
  readonly peer: StandardPeer;
  readonly wgm: WgmSide;
  /** Send time of each data id. */
  readonly sent = new Map<number, number>();
  private nextId = 1;
  peerWallOffsetNs = 1_750_000_000_000_000_000n;

  constructor(seed: number, paths: { fwd: LinkParams; rev?: LinkParams }[], opts: WorldOptions = {}) {
    this.q = new EventQueue(seed);
    this.net = new PathNet(this.q, paths);
    let wgm: WgmSide | undefined;
    this.peer = new StandardPeer(
      this.q,
      opts.app ?? 'echo',
      (ep, m) => this.net.send(ep.path, 'rev', () => wgm!.receive(m, ep.path), ep.port),
      () => this.peerWallOffsetNs + BigInt(Math.round(this.q.now * 1e6)),
    );
    wgm = new WgmSide(this.q, this.net, this.peer, opts);
    this.wgm = wgm;
  }

  /** The application sends one packet every `every` ms in [from, to). */
  traffic(from: number, to: number, every = 100): void {
    for (let t = from; t < to; t += every)
      this.q.at(t, () => {
        const id = this.nextId++;
        this.sent.set(id, this.q.now);
        this.wgm.send(id);
      });
  }

  run(until: number): this {
    this.q.runUntil(until);
    return this;
  }

  /** When the first packet sent at or after `t` arrived at the peer (undefined: none did). */
  firstDeliveryAfter(t: number): number | undefined {
    let best: number | undefined;
    for (const [id, at] of this.peer.received) {
      const s = this.sent.get(id);
      if (s !== undefined && s >= t && (best === undefined || at < best)) best = at;
    }
    return best;
  }

  /** When the first echo of a packet sent at or after `t` came back. */
  firstPongAfter(t: number): number | undefined {
    let best: number | undefined;
    for (const [id, at] of this.wgm.pongs) {
      const s = this.sent.get(id);
      if (s !== undefined && s >= t && (best === undefined || at < best)) best = at;
    }
    return best;
  }

  /** Packets sent in [from, to) that never reached the peer. */
  lostBetween(from: number, to: number): number {
    let n = 0;
    for (const [id, s] of this.sent) if (s >= from && s < to && !this.peer.received.has(id)) n++;
    return n;
  }

  /** Invariants that must hold in every run; returns the broken ones. */
  invariants(): string[] {
    const out = [...this.wgm.violations];
    for (const [round, n] of this.peer.stats.consumedPerRound)
      if (round >= 0 && n > 1) out.push(`round ${round}: ${n} initiations consumed by the peer`);
    if (this.wgm.sel.table.size > 36) out.push(`${this.wgm.sel.table.size} candidates stored`);
    return out;
  }

  describe(): string {
    const s = this.peer.stats;
    return (
      `seed ${this.q.seed}: t=${this.q.now} active=${this.wgm.activePath()} switches=` +
      JSON.stringify(this.wgm.switches) +
      ` inits=${this.wgm.initiationsSent} consumed=${s.consumed} replays=${s.replays} floods=${s.floods}` +
      ` unknownIndex=${s.unknownIndex}`
    );
  }
}
