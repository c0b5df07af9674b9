// A worker's private copy of the configuration: peers' endpoints (already encoded as
// sockaddrs), the allowed-IPs table, and the keypairs this worker needs with their cipher
// contexts (and, on the receive side, their replay windows). Built from Control messages,
// which `sync` takes off the worker's port before each batch. A worker of both directions
// (both.ts) holds one state for its two loops: each keypair then has both cipher contexts.
//
// It also caches each peer's sticky source address (source.ts) as ancillary data bytes, under
// the shared record's generation: a transmit loop re-reads the record only when that
// changed (`source*`: what it sends with), and a receive loop writes it only when a packet's
// addresses differ from it (`arrival*`: what the packet that set it carried). The two caches
// are apart, so one thread can run both loops.

import { receiveMessageOnPort } from 'node:worker_threads';
import { CONTROL_SIZE, encodePktinfo, type LocalAddr } from '../../sys/pktinfo.js';
import type { RawAddr } from '../../sys/udp.js';
import { encodeSockaddr, SOCKADDR_SIZE } from '../../sys/udp.js';
import { AllowedIPs } from '../core/allowedips.js';
import { ReplayFilter } from '../core/replay.js';
import { type CipherKind, makeCipher, type PacketCipher } from './cipher.js';
import { HandshakeGate } from './gate.js';
import {
  type Control,
  type KeypairFields,
  laneOfIndex,
  receives,
  sends,
  type WorkerInit,
} from './protocol.js';
import { Shared } from './shared.js';
import { SourceRecord } from './source.js';

/** `promoteOver` of a keypair whose promotion target is gone: no sending keypair ever equals it. */
export const STALE_PROMOTION = -2;

export interface Keypair extends KeypairFields {
  /** Transmit side only: seals with the sending key. */
  sealer: PacketCipher | undefined;
  /** Receive side only (the lane that owns the index): opens with the receiving key. */
  opener: PacketCipher | undefined;
  /** Receive side only. */
  replay: ReplayFilter | undefined;
}

/** An empty view: no sticky source, or no sockaddr view made yet. */
const NO_SOURCE = new Uint8Array(0);
/** Replay windows of dropped keypairs kept for reuse (a peer holds at most three keypairs). */
const SPARE_REPLAY_FILTERS = 64;

export class WorkerState {
  readonly init: WorkerInit;
  readonly shared: Shared;
  readonly cipherKind: CipherKind;
  readonly allowed = new AllowedIPs<number>();
  /** Per peer: encoded destination sockaddr (SOCKADDR_SIZE bytes) and its length; 0 = none. */
  readonly endpoint: Uint8Array;
  readonly endpointLen: Int32Array;
  /**
   * Per peer: its sockaddr bytes as a view, made when it first gets an endpoint and kept (no
   * allocation per packet); empty before.
   */
  readonly endpointView: Uint8Array[];
  /**
   * tx, per peer: a second destination for its packets while endpoint selection mirrors
   * (encoded like `endpoint`, length 0: none) and until when (monotonicMs); `mirrors` counts
   * the peers with one, so that a batch looks no further while it is 0.
   */
  readonly mirror: Uint8Array;
  readonly mirrorLen: Int32Array;
  /** Views as for `endpointView`. */
  readonly mirrorView: Uint8Array[];
  readonly mirrorUntil: Float64Array;
  mirrors = 0;
  /** Per peer: the source last reported to the main thread (rx), to report changes once. */
  readonly lastSource: (Uint8Array | undefined)[];
  /**
   * tx, per peer: the sticky source as of record generation `sourceGen` (-1: read it again),
   * as the ancillary data to send with (`sourceLen` 0: none).
   */
  readonly sourceGen: Int32Array;
  readonly sourceLen: Int32Array;
  readonly sourceView: Uint8Array[];
  private readonly sourceCtl: Uint8Array;
  private readonly sourceDV: DataView;
  /**
   * rx, per peer: the record generation this worker last wrote or saw (-1: none) and the
   * ancillary data of the packet that set it.
   */
  readonly arrivalGen: Int32Array;
  private readonly arrivalLen: Int32Array;
  private readonly arrivalCtl: Uint8Array;
  private readonly arrivalWords: Int32Array;
  private readonly record = new SourceRecord();
  readonly present: Uint8Array;
  readonly keypairs = new Map<number, Keypair>();
  readonly byIndex = new Map<number, Keypair>();
  /** rx: keypairs waiting for their first packet to promote them (promoteOnReceive). */
  readonly awaiting = new Set<Keypair>();
  private readonly spareReplays: ReplayFilter[] = [];
  /** rx: what lets handshake messages through to the main thread (gate.ts). */
  readonly gate: HandshakeGate;
  udpFd: number;
  mtu: number;
  private applied = 0;
  /** Entries in the per-peer arrays of objects (ensureRoom). */
  private room = 0;

  constructor(init: WorkerInit) {
    this.init = init;
    this.shared = new Shared(init.shared);
    this.cipherKind = init.cipher;
    this.gate = new HandshakeGate(init.gateSeed);
    const n = this.shared.sizes.maxPeers;
    this.endpoint = new Uint8Array(n * SOCKADDR_SIZE);
    this.endpointLen = new Int32Array(n);
    // The per-peer arrays of objects grow with the slots in use (ensureRoom); views are made
    // when a peer first gets an address (a view is ~100 bytes of heap, and made for every slot
    // they were ~1.5 MiB per worker whatever the number of peers).
    this.endpointView = [];
    this.mirror = new Uint8Array(n * SOCKADDR_SIZE);
    this.mirrorLen = new Int32Array(n);
    this.mirrorView = [];
    this.mirrorUntil = new Float64Array(n);
    this.lastSource = [];
    // The caches of the direction this worker does not run are left empty (zero-length).
    const tx = sends(init.role) ? n : 0;
    const rx = receives(init.role) ? n : 0;
    this.sourceGen = new Int32Array(tx).fill(-1);
    this.sourceLen = new Int32Array(tx);
    this.sourceCtl = new Uint8Array(tx * CONTROL_SIZE);
    this.sourceDV = new DataView(this.sourceCtl.buffer);
    this.sourceView = []; // views made when a peer gets a source
    this.arrivalGen = new Int32Array(rx).fill(-1);
    this.arrivalLen = new Int32Array(rx);
    this.arrivalCtl = new Uint8Array(rx * CONTROL_SIZE);
    this.arrivalWords = new Int32Array(this.arrivalCtl.buffer);
    this.present = new Uint8Array(n);
    this.udpFd = init.udpFd;
    this.mtu = init.mtu;
  }

  /** Applies every control message waiting on the port. Cheap when there are none. */
  sync(): void {
    if (this.shared.sent(this.init.thread) === this.applied) return;
    for (;;) {
      const m = receiveMessageOnPort(this.init.port);
      if (!m) break;
      // Several at once from an answering slice (workers.ts collect), or one.
      const msg = m.message as Control | Control[];
      if (Array.isArray(msg)) {
        for (const c of msg) this.apply(c);
        this.applied += msg.length;
      } else {
        this.apply(msg);
        this.applied++;
      }
    }
    this.shared.noteApplied(this.init.thread, this.applied);
  }

  /**
   * Makes the per-peer arrays of objects reach slot `peer`. They hold the slots in use rather
   * than `maxPeers` (8192 entries of 8 bytes each, four arrays: 256 KiB per worker), grown
   * packed, by doubling; every message about a peer comes through here first, so a loop
   * reading them for a peer it holds a keypair or endpoint of never finds a hole.
   */
  private ensureRoom(peer: number): void {
    if (peer < this.room) return;
    const want = Math.min(this.shared.sizes.maxPeers, Math.max(peer + 1, this.room * 2, 64));
    for (let p = this.room; p < want; p++) {
      this.endpointView.push(NO_SOURCE);
      this.mirrorView.push(NO_SOURCE);
      this.sourceView.push(NO_SOURCE);
      this.lastSource.push(undefined);
    }
    this.room = want;
  }

  private apply(c: Control): void {
    if ('peer' in c) this.ensureRoom(c.peer);
    switch (c.t) {
      case 'peer':
        if (!c.present) this.dropPeer(c.peer);
        this.present[c.peer] = c.present ? 1 : 0;
        return;
      case 'endpoint':
        this.setEndpoint(c.peer, c.addr);
        return;
      case 'mirror':
        this.setMirror(c.peer, c.addr, c.until);
        return;
      case 'allowed':
        this.allowed.removeOwner(c.peer);
        for (const p of c.prefixes) this.allowed.insert(p.family, p.address, p.cidr, c.peer);
        return;
      case 'keypair': {
        this.dropKeypair(c.slot);
        // The main thread sends the receiving key only to the lane that owns the index
        // (dataplane.ts installKeypair), and the sending key only to workers that send.
        const rx = c.recvKey !== undefined && laneOfIndex(c.localIndex, this.init.lanes) === this.init.lane;
        const tx = c.sendKey !== undefined;
        if (rx || tx) {
          const kp: Keypair = {
            slot: c.slot,
            peer: c.peer,
            localIndex: c.localIndex,
            remoteIndex: c.remoteIndex,
            sealer: tx ? makeCipher(this.cipherKind, c.sendKey!, true) : undefined,
            opener: rx ? makeCipher(this.cipherKind, c.recvKey!, false) : undefined,
            created: c.created,
            promoteOnReceive: rx && c.promoteOnReceive,
            promoteOver: c.promoteOver,
            counter: c.counter,
            replay: rx ? this.replayFilter() : undefined,
          };
          this.keypairs.set(c.slot, kp);
          if (rx) this.byIndex.set(c.localIndex, kp);
          if (kp.promoteOnReceive) this.awaiting.add(kp);
        }
        c.sendKey?.fill(0);
        c.recvKey?.fill(0);
        return;
      }
      case 'keypairGone':
        this.dropKeypair(c.slot);
        return;
      case 'mtu':
        this.mtu = c.mtu;
        return;
      case 'handshakeKey':
        this.gate.setPublicKey(c.publicKey);
        return;
      case 'socket':
        this.udpFd = c.fd;
        return;
    }
  }

  /**
   * tx: re-reads `peer`'s sticky source; it applies only while the endpoint is the remote it
   * was learned from. Called when the record's generation differs from `sourceGen[peer]`.
   */
  refreshSource(peer: number): void {
    const rec = this.record;
    const g = this.shared.sources.load(peer, rec);
    this.sourceGen[peer] = g; // -1 (being written): read again for the next packet
    const off = peer * CONTROL_SIZE;
    let len = 0;
    if (
      g >= 0 &&
      rec.hasLocal() &&
      rec.remoteIs(this.endpoint, peer * SOCKADDR_SIZE, this.endpointLen[peer]!)
    )
      len = encodePktinfo(rec.local()!, this.sourceDV, off);
    this.sourceLen[peer] = len;
    this.sourceView[peer] = len > 0 ? this.sourceCtl.subarray(off, off + len) : NO_SOURCE;
  }

  /**
   * rx: does the ancillary data of `len` bytes at int32 word `word` of `words` equal what set
   * `peer`'s record? (Compared a word at a time: a few times faster than bytes, per packet.)
   */
  sameArrival(peer: number, words: Int32Array, word: number, len: number): boolean {
    if (this.arrivalLen[peer] !== len) return false;
    const ctl = this.arrivalWords;
    const at = (peer * CONTROL_SIZE) >> 2;
    for (let i = 0; i < len >> 2; i++) if (words[word + i] !== ctl[at + i]) return false;
    return true;
  }

  /**
   * rx: an authenticated packet from `peer` came from the sockaddr at `bytes[name, ...)` to
   * `local` (its ancillary data at `bytes[ctl, ctl + ctlLen)`): makes that the peer's record.
   */
  learnSource(
    peer: number,
    bytes: Uint8Array,
    name: number,
    local: LocalAddr | undefined,
    ctl: number,
    ctlLen: number,
  ): void {
    const rec = this.record;
    rec.set(bytes, name, this.init.udpFamily === 6 ? SOCKADDR_SIZE : 16, local);
    this.arrivalGen[peer] = this.shared.sources.store(peer, rec);
    const n = Math.min(ctlLen, CONTROL_SIZE);
    this.arrivalCtl.set(bytes.subarray(ctl, ctl + n), peer * CONTROL_SIZE);
    this.arrivalLen[peer] = n;
  }

  private forgetSource(peer: number): void {
    if (this.sourceGen.length > 0) {
      this.sourceGen[peer] = -1;
      this.sourceLen[peer] = 0;
      this.sourceView[peer] = NO_SOURCE;
    }
    if (this.arrivalGen.length > 0) {
      this.arrivalGen[peer] = -1;
      this.arrivalLen[peer] = 0;
    }
  }

  private setEndpoint(peer: number, addr: RawAddr | undefined): void {
    const off = peer * SOCKADDR_SIZE;
    this.forgetSource(peer); // re-read: whether the record applies depends on the endpoint
    if (!addr) {
      this.endpointLen[peer] = 0;
      this.lastSource[peer] = undefined;
      return;
    }
    const view = new DataView(this.endpoint.buffer, this.endpoint.byteOffset, this.endpoint.byteLength);
    try {
      this.endpointLen[peer] = encodeSockaddr(addr, view, off, this.init.udpFamily);
      if (this.endpointView[peer] === NO_SOURCE)
        this.endpointView[peer] = this.endpoint.subarray(off, off + SOCKADDR_SIZE);
    } catch {
      this.endpointLen[peer] = 0; // an IPv6 endpoint on an IPv4-only socket: unreachable
    }
    // What a packet from this endpoint looks like as a source, for roaming reports.
    this.lastSource[peer] = this.endpoint.slice(off, off + SOCKADDR_SIZE);
  }

  private setMirror(peer: number, addr: RawAddr | undefined, until: number): void {
    this.clearMirror(peer);
    if (!addr) return;
    const view = new DataView(this.mirror.buffer, this.mirror.byteOffset, this.mirror.byteLength);
    try {
      const off = peer * SOCKADDR_SIZE;
      this.mirrorLen[peer] = encodeSockaddr(addr, view, off, this.init.udpFamily);
      if (this.mirrorView[peer] === NO_SOURCE)
        this.mirrorView[peer] = this.mirror.subarray(off, off + SOCKADDR_SIZE);
    } catch {
      return; // an IPv6 path on an IPv4-only socket: nothing to mirror onto
    }
    this.mirrorUntil[peer] = until;
    this.mirrors++;
  }

  /** tx: stops mirroring `peer`'s packets (asked to, its time ran out, or the peer left). */
  clearMirror(peer: number): void {
    if (this.mirrorLen[peer] === 0) return;
    this.mirrorLen[peer] = 0;
    this.mirrors--;
  }

  /**
   * A cleared replay window for a new keypair, reusing a dropped keypair's. Its ring is 1 KiB of
   * memory outside the V8 heap: one allocated and collected per handshake kept the receive
   * worker in malloc and the young-generation sweeper while answering a flood. Keypairs are
   * applied and dropped only between batches (`sync`), so none is in use while it moves.
   */
  private replayFilter(): ReplayFilter {
    const r = this.spareReplays.pop();
    if (!r) return new ReplayFilter();
    r.reset();
    return r;
  }

  private dropKeypair(slot: number): void {
    const kp = this.keypairs.get(slot);
    if (!kp) return;
    kp.sealer?.free();
    kp.opener?.free();
    if (kp.replay && this.spareReplays.length < SPARE_REPLAY_FILTERS) this.spareReplays.push(kp.replay);
    this.keypairs.delete(slot);
    if (this.byIndex.get(kp.localIndex) === kp) this.byIndex.delete(kp.localIndex);
    this.awaiting.delete(kp);
    // The slot may be reused for another keypair: a promotion waiting to replace this one must
    // not replace that one.
    for (const w of this.awaiting) if (w.promoteOver === slot) w.promoteOver = STALE_PROMOTION;
  }

  private dropPeer(peer: number): void {
    for (const kp of [...this.keypairs.values()]) if (kp.peer === peer) this.dropKeypair(kp.slot);
    this.allowed.removeOwner(peer);
    this.endpointLen[peer] = 0;
    this.clearMirror(peer);
    this.lastSource[peer] = undefined;
    this.forgetSource(peer);
  }

  /** Frees every cipher context (on exit). */
  dispose(): void {
    for (const slot of [...this.keypairs.keys()]) this.dropKeypair(slot);
  }
}
