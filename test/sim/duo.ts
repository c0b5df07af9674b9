// Two wgm sides in one simulation, each the real engine core with endpoint selection, each
// listing the other's address on every path as an `Endpoint` line (issue 10: "wgm-engine on
// both sides, both initiating at once"). Handshake messages are the cores' real bytes; transport
// is abstract (receiver index, counter, application id), sealed with the sending side's
// current keypair and opened by looking the receiver index up among the receiving side's
// current, previous and next keypairs, as the data plane does. A transport message whose index
// the receiver no longer holds is counted: the index invariant is that there are none.
//
// Side A sends on the paths' `fwd` direction and sees B at 10.0.k.1:51820 on path k; B sends on
// `rev` and sees A at 10.1.k.2:51820. No NAT: each side's source on a path is the address the
// other lists for that path.

import { publicKeyOf } from '../../src/crypto/x25519.js';
import type { Action, TransportKeypair } from '../../src/engine/core/actions.js';
import { type PathAddr, pathKey } from '../../src/engine/core/addr.js';
import { REJECT_AFTER_TIME_MS } from '../../src/engine/core/constants.js';
import { Core } from '../../src/engine/core/core.js';
import { newDevice, newPeer } from '../../src/model/index.js';
import { EventQueue, type LinkParams, PathNet } from './net.js';

type Dir = 'fwd' | 'rev';

interface Data {
  receiver: number;
  counter: number;
  /** Application id; 0 for a keepalive. */
  id: number;
}

function addrOn(side: 'A' | 'B', k: number): PathAddr {
  const address = side === 'B' ? Uint8Array.of(10, 0, k, 1) : Uint8Array.of(10, 1, k, 2);
  return { family: 4, address, port: 51820, scopeId: 0 };
}

const inside = (side: 'A' | 'B') => Uint8Array.of(10, 9, 0, side === 'A' ? 1 : 2);

export class DuoSide {
  readonly core: Core;
  other!: DuoSide;
  readonly publicKey: Uint8Array;
  private peerKey!: Uint8Array;
  private readonly held = new Map<number, { kp: TransportKeypair; seen: Set<number> }>();
  private sending: TransportKeypair | undefined;
  private endpoint: PathAddr | undefined;
  private wakeAt: number | undefined;
  private readonly dir: Dir;
  /** Transport messages that arrived for an index this side no longer (or never) held. */
  readonly unknown: { at: number; receiver: number }[] = [];
  /** Application ids received, with arrival time. */
  readonly received = new Map<number, number>();
  readonly sent = new Map<number, number>();
  handshakesSent = 0;
  trace: ((line: string) => void) | undefined;

  constructor(
    readonly name: 'A' | 'B',
    private readonly q: EventQueue,
    private readonly net: PathNet,
  ) {
    this.dir = name === 'A' ? 'fwd' : 'rev';
    const privateKey = q.rng.bytes(32);
    this.publicKey = publicKeyOf(privateKey);
    this.core = new Core({
      wallEpochNs: 1_750_000_000_000_000_000n,
      wallClock: (now) => 1_750_000_000_000_000_000n + BigInt(Math.round(now * 1e6)),
      random: (n) => q.rng.bytes(n),
    });
    this.core.configure(newDevice({ privateKey, listenPort: 51820 }), q.now);
  }

  /** Makes `other` this side's one peer, its address on every path an `Endpoint` line. */
  pair(other: DuoSide): void {
    this.other = other;
    this.peerKey = other.publicKey;
    const peer = newPeer<PathAddr>({
      publicKey: other.publicKey,
      allowedIPs: [{ family: 4, address: inside(other.name), cidr: 32 }],
    });
    this.handle(this.core.configure(newDevice<PathAddr>({ peers: [peer] }), this.q.now));
    const lines = this.net.paths.map((_, k) => [addrOn(other.name, k)]);
    this.handle(this.core.configurePeer(other.publicKey, { lines }, this.q.now));
  }

  /** The path this side sends on (undefined: none yet). */
  activePath(): number | undefined {
    return this.endpoint && this.pathOf(this.endpoint);
  }

  private pathOf(to: PathAddr): number | undefined {
    for (let k = 0; k < this.net.paths.length; k++)
      if (pathKey(addrOn(this.other.name, k)) === pathKey(to)) return k;
    return undefined;
  }

  /** The application sends one packet to the other side (id > 0). */
  send(id: number): void {
    const now = this.q.now;
    this.sent.set(id, now);
    const kp = this.sending;
    if (!kp || !this.endpoint || now - kp.created >= REJECT_AFTER_TIME_MS) {
      const p = new Uint8Array(24);
      p[0] = 0x45;
      p[3] = 24;
      p.set(inside(this.name), 12);
      p.set(inside(this.other.name), 16);
      new DataView(p.buffer).setUint32(20, id);
      this.handle(this.core.packetFromTun(p, now));
      return;
    }
    this.seal(kp, [id]);
    this.handle(this.core.transportSent(this.peerKey, 56, 1, now));
  }

  private seal(kp: TransportKeypair, ids: number[]): void {
    const path = this.endpoint && this.pathOf(this.endpoint);
    if (path === undefined) return;
    for (const id of ids) {
      const m: Data = {
        receiver: kp.remoteIndex,
        counter: Number(Atomics.add(kp.sendCounterCell, 0, 1n)),
        id,
      };
      const from = addrOn(this.name, path);
      this.net.send(path, this.dir, () => this.other.transport(m, from));
    }
  }

  /** A transport message arrived from `from`. */
  private transport(m: Data, from: PathAddr): void {
    const now = this.q.now;
    const h = this.held.get(m.receiver);
    if (!h || now - h.kp.created >= REJECT_AFTER_TIME_MS) {
      this.unknown.push({ at: now, receiver: m.receiver });
      this.trace?.(`t=${now} ${this.name}: data for unknown index ${m.receiver}`);
      return;
    }
    if (h.seen.has(m.counter)) return;
    h.seen.add(m.counter);
    if (m.id !== 0) this.received.set(m.id, now);
    this.handle(this.core.transportReceived(m.receiver, from, m.id ? 56 : 32, m.id === 0, now));
  }

  private handshake(bytes: Uint8Array, from: PathAddr): void {
    this.handle(this.core.datagram(from, bytes, this.q.now));
  }

  private handle(actions: Action[]): void {
    for (const a of actions) {
      if (a.type !== 'keypairChanged') continue;
      const { current, previous, next } = a.keypairs;
      const keep = new Set<number>();
      for (const kp of [current, previous, next]) {
        if (!kp) continue;
        keep.add(kp.localIndex);
        if (!this.held.has(kp.localIndex)) this.held.set(kp.localIndex, { kp, seen: new Set() });
      }
      for (const i of [...this.held.keys()]) if (!keep.has(i)) this.held.delete(i);
      this.sending = current;
    }
    const sentReports: number[] = [];
    for (const a of actions) {
      switch (a.type) {
        case 'send': {
          const path = this.pathOf(a.to);
          if (path === undefined) break;
          this.handshakesSent++;
          const bytes = Uint8Array.from(a.bytes);
          const from = addrOn(this.name, path);
          this.net.send(path, this.dir, () => this.other.handshake(bytes, from));
          break;
        }
        case 'sendData': {
          if (!this.sending) break;
          const ids = a.packets.map((p) =>
            p.length >= 24 ? new DataView(p.buffer, p.byteOffset).getUint32(20) : 0,
          );
          this.seal(this.sending, ids);
          sentReports.push(ids.filter((i) => i !== 0).length);
          break;
        }
        case 'endpointChanged':
          this.endpoint = a.endpoint;
          break;
        case 'wakeAt':
          this.schedule(a.at);
          break;
        case 'log':
          this.trace?.(`t=${this.q.now} ${this.name}: ${a.msg}`);
          break;
        default:
          break;
      }
    }
    for (const n of sentReports) this.handle(this.core.transportSent(this.peerKey, 0, n, this.q.now));
  }

  private schedule(at: number): void {
    this.wakeAt = at;
    this.q.at(at, () => {
      if (this.wakeAt !== at) return;
      this.wakeAt = undefined;
      this.handle(this.core.tick(this.q.now));
    });
  }
}

/** Two wgm sides joined by `paths` (A→B is each path's `fwd`). */
export class Duo {
  readonly q: EventQueue;
  readonly net: PathNet;
  readonly a: DuoSide;
  readonly b: DuoSide;
  private nextId = 1;

  constructor(seed: number, paths: { fwd: LinkParams; rev?: LinkParams }[]) {
    this.q = new EventQueue(seed);
    this.net = new PathNet(this.q, paths);
    this.a = new DuoSide('A', this.q, this.net);
    this.b = new DuoSide('B', this.q, this.net);
    this.a.pair(this.b);
    this.b.pair(this.a);
  }

  /** Both sides send one packet every `every` ms in [from, to), at the same moments. */
  traffic(from: number, to: number, every = 50): void {
    for (let t = from; t < to; t += every)
      this.q.at(t, () => {
        this.a.send(this.nextId++);
        this.b.send(this.nextId++);
      });
  }

  run(until: number): this {
    this.q.runUntil(until);
    return this;
  }

  /** Packets `side` sent in [from, to) that the other side never received. */
  lost(side: DuoSide, from: number, to: number): number {
    let n = 0;
    for (const [id, at] of side.sent) if (at >= from && at < to && !side.other.received.has(id)) n++;
    return n;
  }

  describe(): string {
    const u = (s: DuoSide) => s.unknown.map((x) => `${x.at}`).join(',');
    return (
      `seed ${this.q.seed}: unknown-index drops A [${u(this.a)}] B [${u(this.b)}]; ` +
      `handshakes A ${this.a.handshakesSent} B ${this.b.handshakesSent}`
    );
  }
}
