// Which endpoint a peer's packets go to: endpoint selection (select.ts) seen from the core.
// PeerPaths owns one PeerSelector per peer and forwards the core's events to it with the time.
//
// A peer's endpoints are lines, as in the config: line i holds the addresses of the i-th
// `Endpoint` (one for a literal, the resolved ones for a hostname, none until it resolves).
// The order of lines is the user's preference; selection races them (docs/endpoint-selection.md).

import { copyPath, type PathAddr, pathKey } from './addr.js';
import {
  type CandidateSnapshot,
  PeerSelector,
  type Policy,
  type SelectOutput,
  type Verdict,
} from './select.js';

/** What a peer's path configuration may change (unset fields stay as they are). */
export interface PeerPathConfig {
  /** `Endpoint` lines in order, each with its addresses (a hostname's may be empty). */
  lines?: PathAddr[][];
  /** 'latency' (default): the fastest live path, config order breaking near-ties. */
  policy?: Policy;
  /** Follow the peer when its authenticated packets come from a new address (default true). */
  roaming?: boolean;
}

export class PeerPaths {
  readonly selector: PeerSelector;
  private lines: PathAddr[][] = [];
  private addressCount = 0;

  constructor(random: () => number, wallNs: (now: number) => bigint) {
    this.selector = new PeerSelector({ random, wallNs });
  }

  /**
   * Where transport goes now; undefined: nowhere known. Before selection chose (no round
   * answered, nothing heard), the first configured address, as a standard peer would use its
   * one endpoint (and `wg show` prints it).
   */
  get active(): PathAddr | undefined {
    return this.selector.active ?? this.lines.find((l) => l.length > 0)?.[0];
  }

  /** The configured addresses, line by line, in order (what a UAPI get lists). */
  get configured(): PathAddr[] {
    return this.lines.flat();
  }

  /**
   * Whether selection runs the handshakes: with two or more configured addresses. With one (or
   * none), the peer behaves exactly as a standard one (wireguard-go's timers and retries toward
   * its one endpoint); selection then only follows roaming and keeps the snapshot.
   */
  get racing(): boolean {
    return this.addressCount >= 2;
  }

  /** UAPI-style candidates: one line per address. */
  setCandidates(list: readonly PathAddr[]): void {
    this.setLines(list.map((p) => [p]));
  }

  /** Replaces the lines; throws RangeError (nothing changed) for a bad address or too many. */
  setLines(lines: readonly (readonly PathAddr[])[]): void {
    const copy = lines.map((l) => l.map(copyPath));
    this.selector.configure(copy);
    this.lines = copy;
    this.addressCount = copy.reduce((n, l) => n + l.length, 0);
  }

  configure(cfg: PeerPathConfig): void {
    if (cfg.lines) this.setLines(cfg.lines);
    if (cfg.policy !== undefined) this.selector.policy = cfg.policy;
    if (cfg.roaming !== undefined) this.selector.roaming = cfg.roaming;
  }

  /** A new DNS answer for line `rank`; throws RangeError (nothing changed) when it is bad. */
  updateLine(rank: number, addrs: readonly PathAddr[], now: number): SelectOutput[] {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.lines.length)
      throw new RangeError(`Endpoint line ${rank + 1} does not exist (the peer has ${this.lines.length})`);
    const copy = addrs.map(copyPath);
    const out = this.selector.updateLine(rank, copy, now);
    this.lines[rank] = copy;
    this.addressCount = this.lines.reduce((n, l) => n + l.length, 0);
    return out;
  }

  // ---- Events, forwarded with the time ----

  start(now: number): SelectOutput[] {
    return this.selector.start(now);
  }

  dataSent(now: number): SelectOutput[] {
    if (!this.racing) return [];
    return this.selector.onDataSent(now);
  }

  received(from: PathAddr, now: number): SelectOutput[] {
    return this.selector.onReceive(from, now);
  }

  rekeyDue(now: number): SelectOutput[] {
    return this.selector.onRekeyDue(now);
  }

  networkChanged(now: number): SelectOutput[] {
    return this.selector.onNetworkChange(now);
  }

  sendError(to: PathAddr, now: number): SelectOutput[] {
    return this.selector.onSendError(pathKey(to), now);
  }

  dataRefused(to: PathAddr, now: number): SelectOutput[] {
    if (!this.racing) return [];
    return this.selector.onDataRefused(pathKey(to), now);
  }

  response(round: number, candidate: string, from: PathAddr, now: number): Verdict {
    return this.selector.onResponse(round, candidate, from, now);
  }

  tick(now: number): SelectOutput[] {
    return this.selector.tick(now);
  }

  /** When `tick` has something to do (never while not racing: standard timers rule then). */
  next(): number | undefined {
    return this.racing ? this.selector.next() : undefined;
  }

  /** Per candidate, in race order. */
  snapshot(): CandidateSnapshot[] {
    return this.selector.snapshot().candidates;
  }
}
