// The wgm side of a simulation: the real engine core (src/engine/core/core.ts, with endpoint
// selection inside it) as production runs it, plus the thin part of a data plane the core
// leaves to its owner: the keypairs it hands over ('keypairChanged'), the active endpoint
// ('endpointChanged'), sending application packets on the current keypair (or handing them to
// the core while none can send), and reporting transport both ways (transportSent /
// transportReceived). The core's wake-ups run on the simulation's clock.
//
// The standard peer (responder.ts) speaks the simulator's abstract messages; the bridge here
// translates with real cryptography on the peer's behalf: it opens the core's initiations with
// the peer's keys (timestamp, sender index), answers the peer's responses and initiations with
// real messages (createResponse / createInitiation), turns cookie replies into real ones bound
// to the source the peer sees, and checks MAC2 the way the peer would. Transport is not
// encrypted (the data plane's sealing is tested elsewhere): messages carry the receiver index
// and counter the core's keypairs give them.

import { tai64n, tai64nToUnixNs } from '../../src/crypto/tai64n.js';
import { publicKeyOf } from '../../src/crypto/x25519.js';
import type { Action, TransportKeypair } from '../../src/engine/core/actions.js';
import { cookieSource, type PathAddr, pathKey } from '../../src/engine/core/addr.js';
import { REJECT_AFTER_TIME_MS } from '../../src/engine/core/constants.js';
import { CookieChecker, CookieGenerator } from '../../src/engine/core/cookie.js';
import { Core } from '../../src/engine/core/core.js';
import {
  type Chain,
  consumeResponse,
  createInitiation,
  createResponse,
  dh,
  finishInitiation,
  openInitiation,
} from '../../src/engine/core/handshake.js';
import {
  decodeResponse,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  messageType,
} from '../../src/engine/core/messages.js';
import type { PeerSelector, Policy, SwitchReason } from '../../src/engine/core/select.js';
import { MAX_ROUND_INITIATIONS } from '../../src/engine/core/select-constants.js';
import { newDevice, newPeer } from '../../src/model/index.js';
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

/** Our source on path `k` as the peer sees it, behind the path's NAT (what cookies are bound to). */
function natSource(k: number, port: number): PathAddr {
  return { family: 4, address: Uint8Array.of(10, 1, k, 2), port, scopeId: 0 };
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
  /** Carry out the core's 'mirror' actions (default true; false: one endpoint, as before). */
  mirror?: boolean;
}

/** How often the data plane tells the core of refused data sends to one peer (tx.ts). */
const REFUSAL_REPORT_GAP_MS = 100;

const INSIDE_SRC = Uint8Array.of(10, 9, 0, 1);
const INSIDE_DST = Uint8Array.of(10, 9, 0, 2);

/** An IPv4 packet into the tunnel carrying the application's id. */
function packetOf(id: number): Uint8Array {
  const p = new Uint8Array(24);
  p[0] = 0x45;
  p[3] = 24;
  p[8] = 64;
  p[9] = 17;
  p.set(INSIDE_SRC, 12);
  p.set(INSIDE_DST, 16);
  new DataView(p.buffer).setUint32(20, id);
  return p;
}

interface Held {
  kp: TransportKeypair;
  seen: Set<number>;
}

export class WgmSide {
  readonly core: Core;
  private readonly peerKey: Uint8Array;
  private readonly peerHex: string;
  /** The standard peer's static keys (the bridge does its cryptography). */
  private readonly peerPriv: Uint8Array;
  private readonly peerPub: Uint8Array;
  private readonly ourPub: Uint8Array;
  private readonly peerSS: Uint8Array;
  private readonly peerChecker: CookieChecker;
  private readonly peerCookies: CookieGenerator;
  private readonly pathOf = new Map<string, number>();
  private readonly families: (4 | 6)[];
  /** Our initiations as the peer opened them, by sender index (bounded). */
  private readonly opened = new Map<number, { chain: Chain; ephemeral: Uint8Array; bytes: Uint8Array }>();
  /** The peer's own initiations, by its sender index, waiting for our response. */
  private readonly peerInits = new Map<number, { chain: Chain; ephemeralPrivate: Uint8Array }>();
  private readonly roundOfIndex = new Map<number, number>();
  private readonly keypairs = new Map<number, Held>();
  private sending: TransportKeypair | undefined;
  private endpoint: PathAddr | undefined;
  private readonly mirroring: boolean;
  /** The core's mirror: where each data packet also goes, and until when. */
  private mirrorTo: PathAddr | undefined;
  private mirrorUntil = 0;
  /** Paths whose sends the host refuses (an OUTPUT firewall rule): the send fails locally. */
  readonly refused = new Set<number>();
  private lastRefusalReport = Number.NEGATIVE_INFINITY;
  /** Data copies sent to the mirrored path, and refused data sends. */
  mirroredCopies = 0;
  refusedSends = 0;
  private wakeAt: number | undefined;
  private maxRoundInstalled = 0;
  private readonly installed = new Set<number>();
  wallOffsetNs: bigint;
  readonly switches: { at: number; to: number; reason: SwitchReason }[] = [];
  readonly violations: string[] = [];
  readonly roundsStarted = new Set<number>();
  initiationsSent = 0;
  /** Packets the core was handed while no keypair could send (staged; it drops the oldest past 128). */
  stagedDropped = 0;
  unknownIndex = 0;
  giveUps = 0;
  /** Pong ids received (echo traffic), with arrival times. */
  readonly pongs = new Map<number, number>();
  /** Debugging aid: the core's log lines. */
  trace: ((line: string) => void) | undefined;

  constructor(
    private readonly q: EventQueue,
    private readonly net: PathNet,
    readonly peer: StandardPeer,
    opts: WgmOptions = {},
  ) {
    this.wallOffsetNs = opts.wallOffsetNs ?? 1_750_000_000_000_000_000n;
    const random = (n: number) => q.rng.bytes(n);
    const ourPriv = random(32);
    this.ourPub = publicKeyOf(ourPriv);
    this.peerPriv = random(32);
    this.peerPub = publicKeyOf(this.peerPriv);
    this.peerKey = this.peerPub;
    this.peerHex = Buffer.from(this.peerPub).toString('hex');
    this.peerSS = dh(this.peerPriv, this.ourPub)!;
    this.peerChecker = new CookieChecker(this.peerPub, random);
    this.peerCookies = new CookieGenerator(this.ourPub);
    this.core = new Core({
      wallEpochNs: this.wallOffsetNs,
      wallClock: (now) => this.wallOffsetNs + BigInt(Math.round(now * 1e6)),
      random,
    });
    this.families = opts.families ?? [];
    this.mirroring = opts.mirror ?? true;
    const lines = opts.lines ?? net.paths.map((_, i) => [i]);
    for (const line of lines) for (const k of line) this.pathOf.set(pathKey(this.addrOf(k)), k);
    this.handle(
      this.core.configure(
        newDevice({
          privateKey: ourPriv,
          listenPort: 51820,
          peers: [
            newPeer({
              publicKey: this.peerPub,
              allowedIPs: [{ family: 4, address: INSIDE_DST, cidr: 32 }],
            }),
          ],
        }),
        q.now,
      ),
    );
    this.handle(
      this.core.configurePeer(
        this.peerKey,
        {
          lines: lines.map((l) => l.map((k) => this.addrOf(k))),
          policy: opts.policy ?? 'latency',
          roaming: opts.roaming ?? true,
        },
        q.now,
      ),
    );
  }

  private addrOf(k: number): PathAddr {
    return pathAddr(k, this.families[k] ?? 4);
  }

  /** Selection inside the core, for snapshots. */
  get sel(): PeerSelector {
    return this.core.peers.get(this.peerHex)!.endpoints.selector;
  }

  private pathOfSock(s: PathAddr): number | undefined {
    return this.pathOf.get(pathKey(s));
  }

  private sockOfPath(k: number): PathAddr {
    return this.addrOf(k);
  }

  activePath(): number | undefined {
    return this.endpoint ? this.pathOfSock(this.endpoint) : undefined;
  }

  private toPeer(path: number, m: Wire): void {
    const ep: Endpoint = { path, port: this.net.paths[path]?.natPort ?? 0 };
    this.net.send(path, 'fwd', () => this.peer.receive(m, ep));
  }

  // ---- The application and the host ----

  /** The application sends one data packet (id > 0). */
  send(id: number): void {
    const now = this.q.now;
    const kp = this.sending;
    if (!kp || !this.endpoint || now - kp.created >= REJECT_AFTER_TIME_MS) {
      const before = this.core.peers.get(this.peerHex)?.staged.length ?? 0;
      this.handle(this.core.packetFromTun(packetOf(id), now));
      if (before >= 128) this.stagedDropped++;
      return;
    }
    this.sealAndSend(kp, [id]);
    this.handle(this.core.transportSent(this.peerKey, 32 + 24, 1, now));
  }

  /** The local network changed (all history flushed, full race). */
  networkChange(): void {
    this.handle(this.core.networkChanged(this.q.now));
  }

  /** A new DNS answer for `line`. */
  updateLine(line: number, paths: number[], families: (4 | 6)[] = []): void {
    for (const [k, f] of families.entries()) if (f) this.families[k] = f;
    for (const k of paths) this.pathOf.set(pathKey(this.addrOf(k)), k);
    this.handle(
      this.core.updateEndpointLine(
        this.peerKey,
        line,
        paths.map((k) => this.addrOf(k)),
        this.q.now,
      ),
    );
  }

  // ---- The data plane's part ----

  private sealAndSend(kp: TransportKeypair, ids: number[]): void {
    const path = this.activePath();
    if (path === undefined) return;
    const round = this.roundOfIndex.get(kp.localIndex);
    if (round !== undefined && round < this.maxRoundInstalled)
      this.violations.push(
        `t=${this.q.now}: data on a keypair of round ${round} after round ${this.maxRoundInstalled}`,
      );
    const now = this.q.now;
    const mirror = this.mirrorTo && now < this.mirrorUntil ? this.pathOfSock(this.mirrorTo) : undefined;
    for (const id of ids) {
      const counter = Number(Atomics.add(kp.sendCounterCell, 0, 1n));
      const m: Wire = { t: 'data', receiver: kp.remoteIndex, counter, keepalive: id === 0, id };
      if (this.refused.has(path)) this.dataRefused(path);
      else this.toPeer(path, m);
      // The same datagram to the mirrored path (same counter: the peer keeps the first copy).
      if (mirror !== undefined && mirror !== path && !this.refused.has(mirror)) {
        this.mirroredCopies++;
        this.toPeer(mirror, { ...m });
      }
    }
  }

  /** The host refused a data send to `path`: reported to the core at most every 100 ms. */
  private dataRefused(path: number): void {
    this.refusedSends++;
    const now = this.q.now;
    if (now - this.lastRefusalReport < REFUSAL_REPORT_GAP_MS) return;
    this.lastRefusalReport = now;
    const to = this.sockOfPath(path);
    this.q.at(now, () => this.handle(this.core.dataRefused(this.peerKey, to, this.q.now)));
  }

  private setKeypairs(k: {
    current?: TransportKeypair;
    previous?: TransportKeypair;
    next?: TransportKeypair;
  }) {
    const keep = new Set<number>();
    for (const kp of [k.current, k.previous, k.next]) {
      if (!kp) continue;
      keep.add(kp.localIndex);
      if (!this.keypairs.has(kp.localIndex)) this.keypairs.set(kp.localIndex, { kp, seen: new Set() });
    }
    for (const i of [...this.keypairs.keys()]) if (!keep.has(i)) this.keypairs.delete(i);
    const cur = k.current;
    if (cur && !this.installed.has(cur.localIndex)) {
      this.installed.add(cur.localIndex);
      if (this.installed.size > 64) this.installed.delete(this.installed.values().next().value!);
      const round = this.roundOfIndex.get(cur.localIndex);
      if ((cur as { isInitiator?: boolean }).isInitiator && round !== undefined) {
        if (round < this.maxRoundInstalled)
          this.violations.push(
            `t=${this.q.now}: installed a keypair of round ${round} after round ${this.maxRoundInstalled}`,
          );
        this.maxRoundInstalled = Math.max(this.maxRoundInstalled, round);
      }
    }
    this.sending = cur;
  }

  /** Carries out the core's actions (keypairs first, as the engine does). */
  private handle(actions: Action[]): void {
    for (const a of actions) if (a.type === 'keypairChanged') this.setKeypairs(a.keypairs);
    const reports: { data: number; keepalives: number }[] = [];
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          this.sendHandshake(a.to, a.bytes);
          break;
        case 'sendData': {
          const kp = this.sending;
          if (!kp) break;
          const ids = a.packets.map((p) =>
            p.length >= 24 ? new DataView(p.buffer, p.byteOffset).getUint32(20) : 0,
          );
          this.sealAndSend(kp, ids);
          reports.push({
            data: ids.filter((i) => i !== 0).length,
            keepalives: ids.filter((i) => i === 0).length,
          });
          break;
        }
        case 'endpointChanged':
          this.endpoint = a.endpoint;
          break;
        case 'mirror':
          if (!this.mirroring) break;
          this.mirrorTo = a.to;
          this.mirrorUntil = a.until;
          break;
        case 'pathSwitched': {
          const to = this.pathOfSock(a.to);
          if (to !== undefined) this.switches.push({ at: this.q.now, to, reason: a.reason as SwitchReason });
          break;
        }
        case 'wakeAt':
          this.schedule(a.at);
          break;
        case 'log':
          if (a.msg.includes('giving up')) this.giveUps++;
          this.trace?.(`t=${this.q.now} ${a.msg}`);
          break;
        case 'keypairChanged':
          break;
      }
    }
    for (const r of reports) this.handle(this.core.transportSent(this.peerKey, 0, r.data, this.q.now));
    this.checkBounds();
  }

  private checkBounds(): void {
    const peer = this.core.peers.get(this.peerHex);
    if (!peer) return;
    if (peer.initiations.size > MAX_ROUND_INITIATIONS)
      this.violations.push(`t=${this.q.now}: ${peer.initiations.size} handshake states in flight`);
    if (this.core.index.size > MAX_ROUND_INITIATIONS + 4)
      this.violations.push(`t=${this.q.now}: ${this.core.index.size} indices in use`);
  }

  private schedule(at: number): void {
    this.wakeAt = at;
    this.q.at(at, () => {
      if (this.wakeAt !== at) return;
      this.wakeAt = undefined;
      this.handle(this.core.tick(this.q.now));
    });
  }

  // ---- The bridge to the abstract peer ----

  /** A handshake message from the core toward `to`, said to the peer in its own terms. */
  private sendHandshake(to: PathAddr, bytes: Uint8Array): void {
    const path = this.pathOfSock(to);
    if (path === undefined) return;
    if (this.refused.has(path)) {
      // As the engine does (device.ts): after the batch, the core hears of the refusal.
      this.q.at(this.q.now, () => this.handle(this.core.sendError(this.peerKey, to, this.q.now)));
      return;
    }
    const type = messageType(bytes);
    if (type === MESSAGE_INITIATION) {
      const o = openInitiation(bytes, this.peerPriv, this.peerPub);
      const f = o && finishInitiation(bytes, o, this.peerSS);
      if (!o || !f) throw new Error('the core sent an initiation the peer cannot open');
      const entry = this.core.index.get(o.senderIndex);
      const round = entry && 'initiation' in entry ? (entry.initiation.round ?? -1) : -1;
      // Rounds are selection's (a peer with one address sends standard initiations, round -1).
      if (round >= 0) this.roundOfIndex.set(o.senderIndex, round);
      if (this.roundOfIndex.size > 256) this.roundOfIndex.delete(this.roundOfIndex.keys().next().value!);
      this.opened.set(o.senderIndex, {
        chain: f.chain,
        ephemeral: o.remoteEphemeral,
        bytes: Uint8Array.from(bytes),
      });
      if (this.opened.size > 64) this.opened.delete(this.opened.keys().next().value!);
      if (round >= 0) this.roundsStarted.add(round);
      this.initiationsSent++;
      // MAC2 as the peer checks it: valid for the source it sees on this path now.
      const natPort = this.net.paths[path]?.natPort ?? 0;
      const cookie = this.peerChecker.checkMac2(bytes, cookieSource(natSource(path, natPort)), this.q.now)
        ? `${path}:${natPort}`
        : undefined;
      this.toPeer(path, { t: 'init', sender: o.senderIndex, ts: tai64nToUnixNs(f.timestamp), round, cookie });
    } else if (type === MESSAGE_RESPONSE) {
      const m = decodeResponse(bytes)!;
      const st = this.peerInits.get(m.receiver);
      if (!st) return;
      const r = consumeResponse(bytes, st.chain, st.ephemeralPrivate, this.peerPriv, undefined);
      if (!r) throw new Error('the core sent a response the peer cannot consume');
      this.peerInits.delete(m.receiver);
      this.toPeer(path, { t: 'resp', sender: r.senderIndex, receiver: m.receiver });
    }
  }

  /** Called by the network when a message from the peer arrives on `path`. */
  receive(m: Wire, path: number): void {
    const now = this.q.now;
    const from = this.sockOfPath(path);
    if (m.t === 'cookie') {
      const init = this.opened.get(m.receiver);
      if (!init) return;
      const [p, port] = m.cookie.split(':').map(Number);
      const reply = this.peerChecker.createReply(init.bytes, cookieSource(natSource(p!, port!)), now);
      this.handle(this.core.datagram(from, reply, now));
      return;
    }
    if (m.t === 'resp') {
      const init = this.opened.get(m.receiver);
      if (!init) return; // we never sent it
      const ephemeralPrivate = this.q.rng.bytes(32);
      const made = createResponse({
        chain: init.chain,
        remoteStatic: this.ourPub,
        remoteEphemeral: init.ephemeral,
        receiverIndex: m.receiver,
        senderIndex: m.sender,
        ephemeralPrivate,
        presharedKey: undefined,
      });
      if (!made) throw new Error('the peer could not make a response');
      this.peerCookies.addMacs(made.message, '', now);
      this.handle(this.core.datagram(from, made.message, now));
      return;
    }
    if (m.t === 'init') {
      const ephemeralPrivate = this.q.rng.bytes(32);
      const made = createInitiation({
        localPrivate: this.peerPriv,
        localPublic: this.peerPub,
        remotePublic: this.ourPub,
        staticStatic: this.peerSS,
        ephemeralPrivate,
        timestamp: tai64n(m.ts),
        senderIndex: m.sender,
      });
      if (!made) throw new Error('the peer could not make an initiation');
      this.peerInits.set(m.sender, { chain: made.chain, ephemeralPrivate });
      if (this.peerInits.size > 16) this.peerInits.delete(this.peerInits.keys().next().value!);
      this.peerCookies.addMacs(made.message, '', now);
      this.handle(this.core.datagram(from, made.message, now));
      return;
    }
    const held = this.keypairs.get(m.receiver);
    if (!held || now - held.kp.created >= REJECT_AFTER_TIME_MS) {
      this.unknownIndex++;
      return;
    }
    if (held.seen.has(m.counter)) return; // the replay window
    held.seen.add(m.counter);
    if (!m.keepalive) this.pongs.set(m.id, now);
    this.handle(this.core.transportReceived(m.receiver, from, 32 + (m.keepalive ? 0 : 24), m.keepalive, now));
  }
}
