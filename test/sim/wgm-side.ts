// The wgm side of a simulation: the real selection module (src/engine/core/select.ts) plus a
// thin model of the initiator's handshake bookkeeping around it: one handshake state per
// initiation of the current round (freed when the selector drops the round), keypairs
// current / previous / next with the same promotion rules as a standard peer, staged packets
// while no session exists, confirmation at once after a used response, and a responder slot of
// its own for initiations the peer sends.
//
// This model stands in for the engine core while the core's seam is being reworked; once the
// core calls select.ts itself, the simulation should drive the real core here instead.

import { tai64nToUnixNs } from '../../src/crypto/tai64n.js';
import { type PathAddr, pathKey } from '../../src/engine/core/addr.js';
import {
  COOKIE_REFRESH_TIME_MS,
  HANDSHAKE_INITIATION_RATE_MS,
  MAX_STAGED_PACKETS,
  REKEY_AFTER_TIME_MS,
} from '../../src/engine/core/constants.js';
import {
  PeerSelector,
  type Policy,
  type SelectOutput,
  type SwitchReason,
} from '../../src/engine/core/select.js';
import { MAX_ROUND_INITIATIONS } from '../../src/engine/core/select-constants.js';
import type { EventQueue, PathNet } from './net.js';
import type { Endpoint, StandardPeer, Wire } from './responder.js';

/** The peer's address on path `k` (the candidate): 10.0.k.1 or fd00::k, port 51820. */
export function pathAddr(k: number, family: 4 | 6 = 4): PathAddr {
  if (family === 4) return { family, address: Uint8Array.of(10, 0, k, 1), port: 51820, scopeId: 0 };
  const address = new Uint8Array(16);
  address[0] = 0xfd;
  address[15] = k;
  return { family, address, port: 51820, scopeId: 0 };
}

interface Keypair {
  local: number;
  remote: number;
  round: number;
  created: number;
  counter: number;
  initiator: boolean;
}

export interface WgmOptions {
  policy?: Policy;
  roaming?: boolean;
  /** `Endpoint` lines as lists of path numbers (default: one line per path, in path order). */
  lines?: number[][];
  /** Address family of each path (default 4). */
  families?: (4 | 6)[];
  /** Wall clock offset from virtual time, ns (tests step it to move the clock). */
  wallOffsetNs?: bigint;
}

export class WgmSide {
  readonly sel: PeerSelector;
  private readonly pathOf = new Map<string, number>();
  private readonly states = new Map<number, { round: number; key: string }>();
  current: Keypair | undefined;
  previous: Keypair | undefined;
  next: Keypair | undefined;
  private readonly byIndex = new Map<number, Keypair>();
  private staged: number[] = [];
  private indexSeq = 1;
  private wakeAt: number | undefined;
  private rekeyAsked = false;
  private maxRoundInstalled = 0;
  private mirrorPath: number | undefined;
  private lastRecvTs: bigint | undefined;
  /** Cookies per path (MAC2 is bound to the source the peer sees, so never shared across paths). */
  private readonly cookies = new Map<number, { cookie: string; at: number }>();
  private lastConsumption = Number.NEGATIVE_INFINITY;
  wallOffsetNs: bigint;
  readonly switches: { at: number; to: number; reason: SwitchReason }[] = [];
  readonly violations: string[] = [];
  readonly roundsStarted = new Set<number>();
  initiationsSent = 0;
  stagedDropped = 0;
  unknownIndex = 0;
  giveUps = 0;
  /** Pong ids received (echo traffic), with arrival times. */
  readonly pongs = new Map<number, number>();

  constructor(
    private readonly q: EventQueue,
    private readonly net: PathNet,
    readonly peer: StandardPeer,
    opts: WgmOptions = {},
  ) {
    this.wallOffsetNs = opts.wallOffsetNs ?? 1_750_000_000_000_000_000n;
    this.sel = new PeerSelector({
      policy: opts.policy ?? 'latency',
      roaming: opts.roaming ?? true,
      random: () => q.rng.float(),
      wallNs: () => this.wallOffsetNs + BigInt(Math.round(q.now * 1e6)),
    });
    const families = opts.families ?? [];
    const lines = opts.lines ?? net.paths.map((_, i) => [i]);
    for (const line of lines)
      for (const k of line) this.pathOf.set(pathKey(pathAddr(k, families[k] ?? 4)), k);
    this.sel.configure(lines.map((l) => l.map((k) => pathAddr(k, families[k] ?? 4))));
  }

  private path(a: PathAddr): number {
    const k = this.pathOf.get(pathKey(a));
    if (k === undefined) throw new Error(`no path for ${pathKey(a)}`);
    return k;
  }

  private toPeer(path: number, m: Wire): void {
    const ep: Endpoint = { path, port: this.net.paths[path]?.natPort ?? 0 };
    this.net.send(path, 'fwd', () => this.peer.receive(m, ep));
  }

  /** Called by the network when a message from the peer arrives on `path`. */
  receive(m: Wire, path: number): void {
    const now = this.q.now;
    const src = [...this.pathOf.entries()].find(([, k]) => k === path);
    const addr = src ? this.sel.table.get(src[0])?.addr : undefined;
    if (m.t === 'cookie') {
      // Only for an initiation of the current round (the state exists), as a standard initiator.
      if (this.states.has(m.receiver)) this.cookies.set(path, { cookie: m.cookie, at: now });
      return;
    }
    if (m.t === 'resp') {
      const st = this.states.get(m.receiver);
      if (!st || !addr) return; // an abandoned round: its state is gone
      const v = this.sel.onResponse(st.round, st.key, addr, now);
      if (v.use)
        this.install({
          local: m.receiver,
          remote: m.sender,
          round: st.round,
          created: now,
          counter: 0,
          initiator: true,
        });
      this.handle(v.outputs);
      if (v.use && v.to) this.confirm(this.path(v.to));
      this.schedule();
      return;
    }
    if (m.t === 'init') {
      // Our responder slot: standard checks, kept apart from the selector's rounds.
      if (this.lastRecvTs !== undefined && m.ts <= this.lastRecvTs) return;
      if (now - this.lastConsumption <= HANDSHAKE_INITIATION_RATE_MS) return;
      this.lastRecvTs = m.ts;
      this.lastConsumption = now;
      const k: Keypair = {
        local: this.indexSeq++,
        remote: m.sender,
        round: -1,
        created: now,
        counter: 0,
        initiator: false,
      };
      this.drop(this.next);
      this.drop(this.previous);
      this.previous = undefined;
      this.next = k;
      this.byIndex.set(k.local, k);
      if (addr) this.handle(this.sel.onReceive(addr, now));
      const ep: Endpoint = { path, port: this.net.paths[path]?.natPort ?? 0 };
      this.net.send(path, 'fwd', () =>
        this.peer.receive({ t: 'resp', sender: k.local, receiver: m.sender }, ep),
      );
      this.schedule();
      return;
    }
    const k = this.byIndex.get(m.receiver);
    if (!k) {
      this.unknownIndex++;
      return;
    }
    if (k === this.next) {
      this.drop(this.previous);
      this.previous = this.current;
      this.current = k;
      this.next = undefined;
      this.flushStaged();
    }
    if (addr) this.handle(this.sel.onReceive(addr, now));
    if (!m.keepalive) this.pongs.set(m.id, now);
    this.schedule();
  }

  private drop(k: Keypair | undefined): void {
    if (k) this.byIndex.delete(k.local);
  }

  private install(k: Keypair): void {
    if (k.round < this.maxRoundInstalled)
      this.violations.push(
        `t=${this.q.now}: installed a keypair of round ${k.round} after round ${this.maxRoundInstalled}`,
      );
    this.maxRoundInstalled = Math.max(this.maxRoundInstalled, k.round);
    this.drop(this.previous);
    if (this.next) {
      this.drop(this.current);
      this.previous = this.next;
      this.next = undefined;
    } else this.previous = this.current;
    this.current = k;
    this.byIndex.set(k.local, k);
    this.rekeyAsked = false;
  }

  private confirm(path: number): void {
    if (this.staged.length) this.flushStaged(path);
    else this.sendData(path, 0, true);
  }

  private flushStaged(path?: number): void {
    const p = path ?? this.activePath();
    if (p === undefined) return;
    const staged = this.staged;
    this.staged = [];
    for (const id of staged) this.sendData(p, id, false);
  }

  activePath(): number | undefined {
    const a = this.sel.active;
    return a ? this.pathOf.get(pathKey(a)) : undefined;
  }

  /** The application sends one data packet (id > 0). */
  send(id: number): void {
    const now = this.q.now;
    const k = this.current;
    const p = this.activePath();
    if (!k || p === undefined) {
      if (this.staged.length >= MAX_STAGED_PACKETS) {
        this.staged.shift();
        this.stagedDropped++;
      }
      this.staged.push(id);
      this.handle(this.sel.start(now));
      this.schedule();
      return;
    }
    if (k.initiator && now - k.created >= REKEY_AFTER_TIME_MS && !this.rekeyAsked) {
      this.rekeyAsked = true;
      this.handle(this.sel.onRekeyDue(now));
    }
    this.sendData(p, id, false);
    this.schedule();
  }

  private sendData(path: number, id: number, keepalive: boolean): void {
    const k = this.current;
    if (!k) return;
    if (k.initiator && k.round < this.maxRoundInstalled)
      this.violations.push(
        `t=${this.q.now}: data on a keypair of round ${k.round} after round ${this.maxRoundInstalled}`,
      );
    const m: Wire = { t: 'data', receiver: k.remote, counter: k.counter++, keepalive, id };
    this.toPeer(path, m);
    if (!keepalive) {
      if (this.mirrorPath !== undefined && this.mirrorPath !== path) this.toPeer(this.mirrorPath, m);
      this.handle(this.sel.onDataSent(this.q.now));
    }
  }

  /** The local network changed (all history flushed, full race). */
  networkChange(): void {
    this.handle(this.sel.onNetworkChange(this.q.now));
    this.schedule();
  }

  /** A new DNS answer for `line`. */
  updateLine(line: number, paths: number[], families: (4 | 6)[] = []): void {
    for (const k of paths) this.pathOf.set(pathKey(pathAddr(k, families[k] ?? 4)), k);
    this.handle(
      this.sel.updateLine(
        line,
        paths.map((k) => pathAddr(k, families[k] ?? 4)),
        this.q.now,
      ),
    );
    this.schedule();
  }

  private handle(outs: SelectOutput[]): void {
    for (const o of outs) {
      switch (o.type) {
        case 'initiate': {
          const local = this.indexSeq++;
          this.states.set(local, { round: o.round, key: o.candidate });
          if (this.states.size > MAX_ROUND_INITIATIONS)
            this.violations.push(`t=${this.q.now}: ${this.states.size} handshake states in flight`);
          this.roundsStarted.add(o.round);
          this.initiationsSent++;
          const path = this.path(o.to);
          const ck = this.cookies.get(path);
          const cookie = ck && this.q.now - ck.at < COOKIE_REFRESH_TIME_MS ? ck.cookie : undefined;
          this.toPeer(path, {
            t: 'init',
            sender: local,
            ts: tai64nToUnixNs(o.timestamp),
            round: o.round,
            cookie,
          });
          break;
        }
        case 'dropRound':
          for (const [i, s] of this.states) if (s.round === o.round) this.states.delete(i);
          break;
        case 'switch':
          this.switches.push({ at: this.q.now, to: this.path(o.to), reason: o.reason });
          break;
        case 'mirror':
          this.mirrorPath = this.path(o.to);
          break;
        case 'mirrorEnd':
          this.mirrorPath = undefined;
          break;
        case 'giveUp':
          this.giveUps++;
          this.stagedDropped += this.staged.length;
          this.staged = [];
          break;
      }
    }
  }

  private schedule(): void {
    const n = this.sel.next();
    if (n === undefined) return;
    if (this.wakeAt !== undefined && this.wakeAt <= n && this.wakeAt >= this.q.now) return;
    const at = Math.max(n, this.q.now);
    this.wakeAt = at;
    this.q.at(at, () => {
      if (this.wakeAt !== at) return;
      this.wakeAt = undefined;
      this.handle(this.sel.tick(this.q.now));
      const again = this.sel.next();
      if (again !== undefined && again <= this.q.now)
        throw new Error(
          `seed ${this.q.seed}: the selector asks for a tick at ${again} again at ${this.q.now}`,
        );
      this.schedule();
    });
  }
}
