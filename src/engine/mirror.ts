// The data plane's copy of the core's peers: which slot each peer has, which of its keypairs
// the worker threads hold, where its packets go, which prefixes route to it. The core decides;
// this file only makes the data plane agree, on change:
//
// - peers: a slot per peer the core knows (taken on first sight, given back on removal);
// - keypairs: after each `keypairChanged`, the worker threads hold exactly the core's
//   current/previous/next. `current` seals (unless the core retired it by exhausting its
//   counter); `next`, the responder's unconfirmed keypair, is installed to be promoted by the
//   first packet that arrives on it (the worker reports 'confirmed'), but only over the
//   keypair sending when it was installed: once the core has moved on (its own initiation's
//   keypair became current, so `next` is now `previous`), the worker's compare-and-swap fails,
//   and a promotion that slipped in before the worker heard is undone when its 'confirmed'
//   reaches the core (`confirmed`). Every keypair shares its send-counter cell with the core,
//   so a nonce is never used twice, whichever thread seals;
// - endpoint and allowed IPs: pushed when they differ from what was pushed last.
//
// It holds no keys (the data plane reads them once, at install) and no traffic state: counters
// and 'traffic' events come from the data plane by slot, and `ofSlot` names the peer.

import type { AllowedIP, Device, Key } from '../model/index.js';
import type { SessionKeypairs } from './core/actions.js';
import { type PathAddr, samePath } from './core/addr.js';
import { COUNTER_LIMIT } from './core/constants.js';
import { keyHex } from './core/peer.js';
import type { DataPlane } from './dataplane/dataplane.js';

export interface PeerSlot {
  key: Key;
  keyHex: string;
  slot: number;
  /**
   * The data plane's ids of the keypairs it holds, by our local index; made by the first
   * keypair (an empty Map is ~0.2 KiB, and most configured peers have none).
   */
  keypairs: Map<number, number> | undefined;
  currentIndex: number | undefined;
  /** The core's keypairs as last mirrored. */
  session: SessionKeypairs;
  endpoint: PathAddr | undefined;
  allowedKey: string;
}

function allowedKeyOf(list: AllowedIP[]): string {
  return list.map((a) => `${a.family}/${Buffer.from(a.address).toString('hex')}/${a.cidr}`).join(',');
}

/** What a peer without keypairs mirrors (replaced, never changed). */
const NO_SESSION: SessionKeypairs = Object.freeze({});

/** The core's own copy of a peer's key and its hex, which the mirror shares rather than copies. */
export type CorePeerKey = (peerHex: string) => { publicKey: Key; keyHex: string } | undefined;

export class PeerMirror {
  private readonly byKey = new Map<string, PeerSlot>();
  /**
   * The same slots by the core's own key object, which its actions carry: a handshake's
   * keypairChanged finds its peer without making the key's hex (a string per handshake).
   */
  private readonly byKeyObject = new WeakMap<Key, PeerSlot>();
  private readonly bySlot = new Map<number, PeerSlot>();
  /** Keypairs the core made for a peer that has no slot yet (installed when it gets one). */
  private readonly pendingKeypairs = new Map<string, SessionKeypairs>();

  constructor(
    private readonly dp: DataPlane,
    private readonly corePeer: CorePeerKey = () => undefined,
  ) {}

  ofSlot(slot: number): PeerSlot | undefined {
    return this.bySlot.get(slot);
  }

  ofKey(key: Key): PeerSlot | undefined {
    return this.byKeyObject.get(key) ?? this.byKey.get(keyHex(key));
  }

  /** The peer's slot, taken now if needed; undefined when the data plane has no free slot yet. */
  private ensure(key: Key): PeerSlot | undefined {
    const peerHex = keyHex(key);
    let p = this.byKey.get(peerHex);
    if (p) return p;
    let slot: number;
    try {
      slot = this.dp.addPeer();
    } catch {
      // Slots given back are reused once every worker has seen them go (milliseconds).
      return undefined;
    }
    const own = this.corePeer(peerHex);
    p = {
      key: own?.publicKey ?? Uint8Array.from(key),
      keyHex: own?.keyHex ?? peerHex,
      slot,
      keypairs: undefined,
      currentIndex: undefined,
      session: NO_SESSION,
      endpoint: undefined,
      allowedKey: '',
    };
    this.byKey.set(p.keyHex, p);
    this.byKeyObject.set(p.key, p);
    this.bySlot.set(slot, p);
    const waiting = this.pendingKeypairs.get(peerHex);
    if (waiting) {
      this.pendingKeypairs.delete(peerHex);
      this.setKeypairs(p.key, waiting);
    }
    return p;
  }

  private drop(p: PeerSlot): void {
    this.dp.removePeer(p.slot);
    this.byKey.delete(p.keyHex);
    this.byKeyObject.delete(p.key);
    this.bySlot.delete(p.slot);
  }

  /**
   * Makes the data plane's peers, endpoints and allowed IPs those of `device` (the core's).
   * Returns false when a peer found no free slot (call again after `dp.settle()`).
   */
  syncDevice(device: Device<PathAddr>): boolean {
    const wanted = new Set(device.peers.flatMap((p) => (p.publicKey ? [keyHex(p.publicKey)] : [])));
    for (const p of [...this.byKey.values()]) if (!wanted.has(p.keyHex)) this.drop(p);
    for (const k of [...this.pendingKeypairs.keys()]) if (!wanted.has(k)) this.pendingKeypairs.delete(k);
    let complete = true;
    for (const peer of device.peers) {
      if (!peer.publicKey) continue;
      const p = this.ensure(peer.publicKey);
      if (!p) {
        complete = false;
        continue;
      }
      this.setEndpoint(p.key, peer.activeEndpoint);
      const allowedKey = allowedKeyOf(peer.allowedIPs);
      if (allowedKey !== p.allowedKey) {
        p.allowedKey = allowedKey;
        this.dp.setAllowedIPs(
          p.slot,
          peer.allowedIPs.map((a) => ({ family: a.family, address: a.address, cidr: a.cidr })),
        );
      }
    }
    return complete;
  }

  setEndpoint(key: Key, addr: PathAddr | undefined): void {
    const p = this.ofKey(key);
    if (!p || samePath(addr, p.endpoint)) return;
    p.endpoint = addr;
    this.dp.setEndpoint(p.slot, addr);
  }

  /** Installs and removes keypairs so that the data plane holds exactly `info`. */
  setKeypairs(key: Key, session: SessionKeypairs): void {
    const p = this.ofKey(key);
    if (!p) {
      this.pendingKeypairs.set(keyHex(key), session);
      return;
    }
    const { current, previous, next } = session;
    const wanted = new Set([current, previous, next].flatMap((k) => (k ? [k.localIndex] : [])));
    for (const [index, slot] of [...(p.keypairs ?? [])]) {
      if (!wanted.has(index)) {
        this.dp.removeKeypair(slot);
        p.keypairs?.delete(index);
      }
    }
    p.session = { current, previous, next };
    p.currentIndex = current?.localIndex;
    for (const k of [current, previous, next]) {
      if (!k || p.keypairs?.has(k.localIndex)) continue;
      // `next` may replace, on its first packet, only what sends now for the core: `current`.
      const awaiting = k === next && { over: this.sendingFor(p) };
      p.keypairs ??= new Map();
      p.keypairs.set(k.localIndex, this.dp.installKeypair(p.slot, k, awaiting));
    }
    this.syncSend(p);
  }

  /**
   * The data plane learned that a packet arrived on an awaited keypair of `key`'s peer, which it
   * may have promoted on the way, and the core has taken the packet into account: the sending
   * keypair is again the core's choice (the promotion stands only if the core confirmed it).
   */
  confirmed(key: Key): void {
    const p = this.ofKey(key);
    if (p) this.syncSend(p);
  }

  /** The data-plane slot of the core's `current`, if it can still seal. */
  private sendingFor(p: PeerSlot): number | undefined {
    const current = p.session.current;
    const usable = current && Number(Atomics.load(current.sendCounterCell, 0)) < COUNTER_LIMIT;
    return usable ? p.keypairs?.get(current.localIndex) : undefined;
  }

  private syncSend(p: PeerSlot): void {
    const next = p.session.next;
    const nextSlot = next && p.keypairs?.get(next.localIndex);
    // A worker may already have promoted `next` (its first packet arrived); the core hears of
    // it through 'confirmed'. Keep that choice rather than step back to the old keypair: it is
    // what the core will choose.
    if (nextSlot !== undefined && this.dp.sendKeypair(p.slot) === nextSlot) return;
    this.dp.setSendKeypair(p.slot, this.sendingFor(p));
  }

  /** The local index of the keypair held in data-plane slot `kpSlot` for `p`. */
  indexOfSlot(p: PeerSlot, kpSlot: number): number | undefined {
    for (const [index, slot] of p.keypairs ?? []) if (slot === kpSlot) return index;
    return undefined;
  }
}
