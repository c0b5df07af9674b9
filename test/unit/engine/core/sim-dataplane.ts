// The data plane of the simulation and of the recorded-exchange replay: an in-process,
// synchronous stand-in for the worker threads, built from the very functions they run:
// dataplane/cipher.ts (sealInPlace, openInPlace, the native cipher the workers pick),
// core/transport-rules.ts (counter reservation, padding, the IP length check, REJECT_AFTER_TIME)
// and the replay window. It follows the core's actions the way EngineDevice and the workers do
// (keypairs first; the responder's `next` takes over sending when a packet arrives on it) and
// reports back through transportReceived / transportSent, so the core under test only ever
// sees transport the way it does in production. (Not a test file itself.)

import type { Action, TransportKeypair } from '../../../../src/engine/core/actions.js';
import type { PathAddr } from '../../../../src/engine/core/addr.js';
import { DEFAULT_MTU } from '../../../../src/engine/core/constants.js';
import type { Core } from '../../../../src/engine/core/core.js';
import { DATA_HEADER_SIZE, DATA_RECEIVER, MESSAGE_TRANSPORT } from '../../../../src/engine/core/messages.js';
import { ReplayFilter } from '../../../../src/engine/core/replay.js';
import {
  ipPacketLength,
  keypairExpired,
  reserveCounter,
} from '../../../../src/engine/core/transport-rules.js';
import {
  bestCipher,
  makeCipher,
  openInPlace,
  type PacketCipher,
  sealInPlace,
} from '../../../../src/engine/dataplane/cipher.js';
import { SLOT_BYTES } from '../../../../src/engine/dataplane/tx.js';
import type { Key } from '../../../../src/model/index.js';
import { allocNative } from '../../../../src/sys/native.js';

/** Where the data plane's output goes. */
export interface SimWire {
  /** A datagram leaves: a handshake message as the core made it, or sealed transport. */
  send(to: PathAddr, bytes: Uint8Array): void;
  /** An opened packet for the TUN device. */
  tun(packet: Uint8Array): void;
  /** Every action of the core, as it is carried out (for records, wake-ups and logs). */
  action?(a: Action): void;
  /** A transport message the data plane refused after opening it, and why. */
  dropped?(reason: string): void;
}

interface Held {
  peerHex: string;
  kp: TransportKeypair;
  send: PacketCipher;
  recv: PacketCipher;
  replay: ReplayFilter;
  /** The responder's unconfirmed keypair: it takes over sending when a packet arrives on it. */
  promote: boolean;
}

const hex = (k: Key) => Buffer.from(k).toString('hex');
const TAG = 16;

export class SimDataPlane {
  private readonly byIndex = new Map<number, Held>();
  private readonly sending = new Map<string, Held>();
  private readonly endpoints = new Map<string, PathAddr>();
  private readonly mem = allocNative(SLOT_BYTES);
  private readonly kind = bestCipher();

  constructor(
    readonly core: Core,
    private readonly wire: SimWire,
    private readonly mtu = DEFAULT_MTU,
  ) {}

  /**
   * Carries out the core's actions, keypairs first (as EngineDevice.apply does). What was sent
   * is reported after the whole list, as the engine's reports come after its actions.
   */
  apply(actions: Action[], now: number): void {
    for (const a of actions) if (a.type === 'keypairChanged') this.setKeypairs(a.peer, a.keypairs);
    const sent: { peer: Key; bytes: number; data: number }[] = [];
    for (const a of actions) {
      this.wire.action?.(a);
      if (a.type === 'send') this.wire.send(a.to, a.bytes);
      else if (a.type === 'sendData') sent.push({ peer: a.peer, ...this.sendData(a.peer, a.packets, now) });
      else if (a.type === 'endpointChanged') {
        if (a.endpoint) this.endpoints.set(hex(a.peer), a.endpoint);
        else this.endpoints.delete(hex(a.peer));
      }
    }
    for (const s of sent)
      if (s.bytes > 0) this.apply(this.core.transportSent(s.peer, s.bytes, s.data, now), now);
  }

  /** A datagram arrived: transport is opened here, the rest goes to the core. */
  datagram(from: PathAddr, bytes: Uint8Array, now: number): void {
    const transport =
      bytes.length >= 4 &&
      bytes[0] === MESSAGE_TRANSPORT &&
      bytes[1] === 0 &&
      bytes[2] === 0 &&
      bytes[3] === 0;
    if (!transport) {
      this.apply(this.core.datagram(from, bytes, now), now);
      return;
    }
    if (bytes.length < DATA_HEADER_SIZE || bytes.length > SLOT_BYTES) return;
    const h = this.byIndex.get(Buffer.from(bytes).readUInt32LE(DATA_RECEIVER));
    if (!h) return;
    const m = this.mem.bytes;
    m.set(bytes, 0);
    const plain = openInPlace(h.recv, h.replay, h.kp.created, this.mem, 0, bytes.length, now);
    const packet = plain > 0 ? m.slice(DATA_HEADER_SIZE, DATA_HEADER_SIZE + plain) : undefined;
    m.fill(0, 0, bytes.length);
    if (plain < 0) return;
    if (h.promote) {
      h.promote = false;
      this.sending.set(h.peerHex, h);
    }
    if (packet) {
      const ipLen = ipPacketLength(packet, 0, plain);
      const inner = packet.subarray(0, ipLen);
      const source = ipLen > 0 ? this.core.allowedIPs.lookupSource(inner) : undefined;
      if (ipLen === 0) this.wire.dropped?.('Packet with invalid IP version or length');
      else if (!source || hex(source.publicKey) !== h.peerHex)
        this.wire.dropped?.('Packet with disallowed source address');
      else this.wire.tun(inner);
    }
    this.apply(this.core.transportReceived(h.kp.localIndex, from, bytes.length, plain === 0, now), now);
  }

  /** Seals and sends `packets` with the peer's sending keypair: bytes sent, data packets among them. */
  private sendData(peer: Key, packets: Uint8Array[], now: number): { bytes: number; data: number } {
    const h = this.sending.get(hex(peer));
    const to = this.endpoints.get(hex(peer));
    let bytes = 0;
    if (!h || !to || keypairExpired(h.kp.created, now)) return { bytes, data: 0 };
    let data = 0;
    for (const p of packets) {
      if (DATA_HEADER_SIZE + p.length + TAG + 16 > SLOT_BYTES) continue;
      const counter = reserveCounter(h.kp.sendCounterCell);
      if (counter === undefined) break;
      this.mem.bytes.set(p, DATA_HEADER_SIZE);
      const total = sealInPlace(
        h.send,
        this.mem,
        DATA_HEADER_SIZE,
        p.length,
        this.mtu,
        h.kp.remoteIndex,
        counter,
      );
      this.wire.send(to, this.mem.bytes.slice(0, total));
      this.mem.bytes.fill(0, 0, total);
      bytes += total;
      if (p.length > 0) data++;
    }
    return { bytes, data };
  }

  /** Holds exactly the announced keypairs; keys are read once, here (the core wipes its own). */
  private setKeypairs(
    peer: Key,
    s: { current?: TransportKeypair; previous?: TransportKeypair; next?: TransportKeypair },
  ): void {
    const peerHex = hex(peer);
    const wanted = new Set([s.current, s.previous, s.next].flatMap((k) => (k ? [k.localIndex] : [])));
    for (const [index, h] of [...this.byIndex])
      if (h.peerHex === peerHex && !wanted.has(index)) {
        h.send.free();
        h.recv.free();
        this.byIndex.delete(index);
      }
    for (const k of [s.current, s.previous, s.next]) {
      if (!k || this.byIndex.has(k.localIndex)) continue;
      this.byIndex.set(k.localIndex, {
        peerHex,
        kp: k,
        send: makeCipher(this.kind, k.sendKey, true),
        recv: makeCipher(this.kind, k.recvKey, false),
        replay: new ReplayFilter(),
        promote: k === s.next,
      });
    }
    const was = this.sending.get(peerHex);
    // Already promoted by a packet on `next`: keep it rather than step back.
    if (s.next && was?.kp === s.next) return;
    const current = s.current && this.byIndex.get(s.current.localIndex);
    if (current) this.sending.set(peerHex, current);
    else this.sending.delete(peerHex);
  }
}
