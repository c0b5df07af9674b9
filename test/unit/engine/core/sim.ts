// A seeded, in-memory network with a virtual clock that drives real Cores, each with the
// simulation's data plane (sim-dataplane.ts: the workers' sealing and opening code): each node
// has one address; datagrams arrive after `latency` ms unless a filter drops them. Used by the core's
// protocol tests (not a test file itself).

import { publicKeyOf } from '../../../../src/crypto/x25519.js';
import type { Action } from '../../../../src/engine/core/actions.js';
import { type PathAddr, pathKey } from '../../../../src/engine/core/addr.js';
import { Core, type CoreOptions } from '../../../../src/engine/core/core.js';
import type { Device, Key } from '../../../../src/model/index.js';
import { newDevice, newPeer } from '../../../../src/model/index.js';
import { hostAddr } from '../../../lib/path-addr.js';
import { SimDataPlane } from './sim-dataplane.js';

/** A deterministic byte source (xorshift128+ over a seed). */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  let a = BigInt(seed) | 1n;
  let b = 0x9e3779b97f4a7c15n ^ BigInt(seed);
  const M = (1n << 64n) - 1n;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 8) {
      let x = a;
      const y = b;
      a = y;
      x = (x ^ (x << 23n)) & M;
      b = x ^ y ^ (x >> 17n) ^ (y >> 26n);
      let v = (b + y) & M;
      for (let j = 0; j < 8 && i + j < n; j++) {
        out[i + j] = Number(v & 0xffn);
        v >>= 8n;
      }
    }
    return out;
  };
}

export const WALL_EPOCH_NS = 1_750_000_000n * 1_000_000_000n;

export interface Datagram {
  at: number;
  from: PathAddr;
  to: PathAddr;
  bytes: Uint8Array;
}

export class SimNode {
  readonly core: Core;
  /** Seals and opens transport with the workers' functions (sim-dataplane.ts). */
  readonly dp: SimDataPlane;
  readonly tun: Uint8Array[] = [];
  readonly logs: string[] = [];
  readonly sent: Datagram[] = [];
  readonly actions: Action[] = [];
  wake: number | undefined;
  readonly privateKey: Key;
  readonly publicKey: Key;

  constructor(
    readonly net: SimNet,
    public addr: PathAddr,
    seed: number,
    options: Partial<CoreOptions> = {},
  ) {
    const random = seededRandom(seed);
    this.privateKey = random(32);
    this.publicKey = publicKeyOf(this.privateKey);
    this.core = new Core({ wallEpochNs: WALL_EPOCH_NS, random, ...options });
    this.dp = new SimDataPlane(this.core, {
      send: (to, bytes) => {
        const d = { at: this.net.now, from: this.addr, to, bytes };
        this.sent.push(d);
        this.net.transmit(d);
      },
      tun: (p) => this.tun.push(p),
      action: (a) => {
        this.actions.push(a);
        if (a.type === 'wakeAt') this.wake = a.at;
        else if (a.type === 'log') this.logs.push(`${a.level}: ${a.msg}`);
      },
      dropped: (reason) => this.logs.push(`data plane: ${reason}`),
    });
  }

  /** Carries out the core's actions through the data plane. */
  handle(actions: Action[]): void {
    this.dp.apply(actions, this.net.now);
  }

  /** A datagram arrives (transport to the data plane, the rest to the core). */
  receive(from: PathAddr, bytes: Uint8Array): void {
    this.dp.datagram(from, bytes, this.net.now);
  }

  configure(d: Device<PathAddr>): void {
    this.handle(this.core.configure(d, this.net.now));
  }

  fromTun(packet: Uint8Array): void {
    this.handle(this.core.packetFromTun(packet, this.net.now));
  }

  /** Datagrams this node sent whose first byte is `type`. */
  sentOfType(type: number): Datagram[] {
    return this.sent.filter((d) => d.bytes[0] === type);
  }
}

export class SimNet {
  now = 0;
  latency = 10;
  /** Return true to drop a datagram. */
  drop: (d: Datagram) => boolean = () => false;
  private readonly nodes = new Map<string, SimNode>();
  private inflight: Datagram[] = [];

  add(node: SimNode): SimNode {
    this.nodes.set(pathKey(node.addr), node);
    return node;
  }

  /** Moves a node to another address (roaming). */
  rebind(node: SimNode, addr: PathAddr): void {
    this.nodes.delete(pathKey(node.addr));
    node.addr = addr;
    this.nodes.set(pathKey(addr), node);
  }

  transmit(d: Datagram): void {
    if (this.drop(d)) return;
    this.inflight.push({ ...d, at: this.now + this.latency });
  }

  /** Delivers a datagram now, as if it came from `from` (for replays and fuzzing). */
  inject(to: SimNode, from: PathAddr, bytes: Uint8Array): void {
    to.receive(from, bytes);
  }

  /** Runs deliveries and wake-ups in time order until `now + ms`. */
  run(ms: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next = end;
      let kind: 'deliver' | 'wake' | undefined;
      let who: SimNode | undefined;
      for (const d of this.inflight)
        if (d.at <= next) {
          next = d.at;
          kind = 'deliver';
        }
      for (const n of this.nodes.values())
        if (n.wake !== undefined && n.wake <= next) {
          next = n.wake;
          kind = 'wake';
          who = n;
        }
      if (!kind) break;
      this.now = Math.max(this.now, next);
      if (kind === 'wake') {
        who!.wake = undefined;
        who!.handle(who!.core.tick(this.now));
      } else {
        const i = this.inflight.findIndex((d) => d.at === next);
        const d = this.inflight.splice(i, 1)[0]!;
        const dst = this.nodes.get(pathKey(d.to));
        if (dst) dst.receive(d.from, d.bytes);
      }
    }
    this.now = end;
  }
}

export const v4 = (s: string) => Uint8Array.from(s.split('.').map(Number));

/** An IPv4 packet from `src` to `dst` with `payload` (no checksum; the core does not check it). */
export function ipv4(src: string, dst: string, payload: Uint8Array = new Uint8Array(8)): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(v4(src), 12);
  p.set(v4(dst), 16);
  p.set(payload, 20);
  return p;
}

export const sock = (address: string, port: number): PathAddr => hostAddr(address, port);

/**
 * Two nodes A (10.0.0.1 inside, 192.0.2.1:51820 outside) and B (10.0.0.2, 192.0.2.2:51820),
 * each knowing the other; A knows B's endpoint(s), B learns A's from the handshake unless
 * `bKnowsA`.
 */
export function pair(
  opts: {
    seed?: number;
    aOptions?: Partial<CoreOptions>;
    bOptions?: Partial<CoreOptions>;
    bEndpoints?: PathAddr[];
    bKnowsA?: boolean;
    psk?: Key;
    keepaliveA?: number;
  } = {},
) {
  const net = new SimNet();
  const seed = opts.seed ?? 1;
  const a = net.add(new SimNode(net, sock('192.0.2.1', 51820), seed, opts.aOptions));
  const b = net.add(new SimNode(net, sock('192.0.2.2', 51820), seed + 1000, opts.bOptions));
  const endpoints = (opts.bEndpoints ?? [b.addr]).map((addr) => ({ addr }));
  a.configure(
    newDevice({
      privateKey: a.privateKey,
      listenPort: 51820,
      peers: [
        newPeer({
          publicKey: b.publicKey,
          presharedKey: opts.psk,
          endpoints,
          persistentKeepalive: opts.keepaliveA,
          allowedIPs: [{ family: 4, address: v4('10.0.0.2'), cidr: 32 }],
        }),
      ],
    }),
  );
  b.configure(
    newDevice({
      privateKey: b.privateKey,
      listenPort: 51820,
      peers: [
        newPeer({
          publicKey: a.publicKey,
          presharedKey: opts.psk,
          endpoints: opts.bKnowsA ? [{ addr: a.addr }] : [],
          allowedIPs: [{ family: 4, address: v4('10.0.0.1'), cidr: 32 }],
        }),
      ],
    }),
  );
  return { net, a, b };
}
