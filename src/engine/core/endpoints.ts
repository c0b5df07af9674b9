// Which endpoint a peer's packets go to: endpoint selection (select.ts) seen from the core.
// PeerPaths owns one PeerSelector per peer and converts at its edges between the core's socket
// addresses (model SockAddr: text, with an optional IPv6 scope) and selection's binary PathAddr.
// The spelling the core was given (scope included) is kept per candidate, so what goes out is
// exactly what was configured or heard from.
//
// A peer's endpoints are lines, as in the config: line i holds the addresses of the i-th
// `Endpoint` (one for a literal, the resolved ones for a hostname, none until it resolves).
// The order of lines is the user's preference; selection races them (docs/endpoint-selection.md).

import type { SockAddr } from '../../model/index.js';
import { inetNtop } from '../../model/inet.js';
import { ipBytes } from './addr.js';
import {
  type CandidateSnapshot,
  PeerSelector,
  type Policy,
  type SelectOutput,
  type Verdict,
} from './select.js';
import { type PathAddr, pathKey } from './select-path.js';

/** A socket address as selection sees it; undefined for a non-numeric address. */
export function toPath(a: SockAddr): PathAddr | undefined {
  const ip = ipBytes(a);
  if (!ip || a.port < 1 || a.port > 65535) return undefined;
  return { family: a.family, ip, port: a.port };
}

/** The text form of a path (no scope). */
export function toSock(p: PathAddr): SockAddr {
  return { family: p.family, address: inetNtop(p.ip), port: p.port };
}

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
  /** The spelling (with scope) of addresses we were given or heard from, by path key. */
  private readonly spelling = new Map<string, SockAddr>();
  private lines: PathAddr[][] = [];
  /** The core time of the call in progress (the selector reads the wall clock through it). */
  private now = 0;
  private lastFrom: SockAddr | undefined;
  private lastPath: PathAddr | undefined;
  private activePath: PathAddr | undefined;
  private activeSock: SockAddr | undefined;
  private addressCount = 0;

  constructor(random: () => number, wallNs: (now: number) => bigint) {
    this.selector = new PeerSelector({ random, wallNs: () => wallNs(this.now) });
  }

  /**
   * Where transport goes now; undefined: nowhere known. Before selection chose (no round
   * answered, nothing heard), the first configured address, as a standard peer would use its
   * one endpoint (and `wg show` prints it).
   */
  get active(): SockAddr | undefined {
    const p = this.selector.active ?? this.lines.find((l) => l.length > 0)?.[0];
    if (!p) return undefined;
    // The same object while the same candidate is active: callers cache by identity.
    if (p !== this.activePath) {
      this.activePath = p;
      this.activeSock = this.sockOf(p);
    }
    return this.activeSock;
  }

  /** The configured addresses, line by line, in order (what a UAPI get lists). */
  get configured(): SockAddr[] {
    return this.lines.flatMap((l) => l.map((p) => this.sockOf(p)));
  }

  get lineCount(): number {
    return this.lines.length;
  }

  /**
   * Whether selection runs the handshakes: with two or more configured addresses. With one (or
   * none), the peer behaves exactly as a standard one (wireguard-go's timers and retries toward
   * its one endpoint); selection then only follows roaming and keeps the snapshot.
   */
  get racing(): boolean {
    return this.addressCount >= 2;
  }

  sockOf(p: PathAddr): SockAddr {
    const s = this.spelling.get(pathKey(p));
    return s ? { ...s } : toSock(p);
  }

  /** The path of a source address (cached for the common case: the same source again). */
  pathOf(s: SockAddr): PathAddr | undefined {
    if (this.lastFrom === s && this.lastPath) return this.lastPath;
    const p = toPath(s);
    if (!p) return undefined;
    if (s.scope !== undefined) this.remember(p, s);
    this.lastFrom = s;
    this.lastPath = p;
    return p;
  }

  private remember(p: PathAddr, s: SockAddr): void {
    this.spelling.set(pathKey(p), { ...s });
    // Bounded by the candidates: forget spellings of addresses selection no longer holds.
    if (this.spelling.size > 2 * Math.max(8, this.selector.table.size))
      for (const k of this.spelling.keys()) if (!this.selector.table.get(k)) this.spelling.delete(k);
  }

  /** UAPI-style candidates: one line per address. Unparsable ones are skipped. */
  setCandidates(list: readonly SockAddr[]): void {
    const lines: PathAddr[][] = [];
    for (const s of list) {
      const p = toPath(s);
      if (!p) continue;
      this.remember(p, s);
      lines.push([p]);
    }
    this.setLines(lines);
  }

  /** Replaces the lines; throws RangeError (nothing changed) for a bad address or too many. */
  setLines(lines: readonly (readonly PathAddr[])[]): void {
    const copy = lines.map((l) =>
      l.map((p) => ({ family: p.family, ip: Uint8Array.from(p.ip), port: p.port })),
    );
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
    const copy = addrs.map((p) => ({ family: p.family, ip: Uint8Array.from(p.ip), port: p.port }));
    this.now = now;
    const out = this.selector.updateLine(rank, copy, now);
    this.lines[rank] = copy;
    this.addressCount = this.lines.reduce((n, l) => n + l.length, 0);
    return out;
  }

  // ---- Events, forwarded with the time ----

  start(now: number): SelectOutput[] {
    this.now = now;
    return this.selector.start(now);
  }

  dataSent(now: number): SelectOutput[] {
    if (!this.racing) return [];
    this.now = now;
    return this.selector.onDataSent(now);
  }

  received(from: SockAddr, now: number): SelectOutput[] {
    const p = this.pathOf(from);
    if (!p) return [];
    this.now = now;
    return this.selector.onReceive(p, now);
  }

  rekeyDue(now: number): SelectOutput[] {
    this.now = now;
    return this.selector.onRekeyDue(now);
  }

  networkChanged(now: number): SelectOutput[] {
    this.now = now;
    return this.selector.onNetworkChange(now);
  }

  sendError(to: SockAddr, now: number): SelectOutput[] {
    const p = toPath(to);
    if (!p) return [];
    this.now = now;
    return this.selector.onSendError(pathKey(p), now);
  }

  response(round: number, candidate: string, from: SockAddr, now: number): Verdict {
    const p = this.pathOf(from);
    if (!p) return { use: false, outputs: [] };
    this.now = now;
    return this.selector.onResponse(round, candidate, p, now);
  }

  tick(now: number): SelectOutput[] {
    this.now = now;
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
