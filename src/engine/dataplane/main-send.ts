// What the main thread sends itself: handshake messages as they are, and transport packets
// the core hands over (packets staged while a handshake ran, keepalives). It seals with the
// same shared counters as the workers, so nonces never repeat across threads, and counts what
// it sends in thread row 0 of the shared statistics. Like the workers, it sends from the peer's
// sticky source address when the caller has one (SendSource), and without it when the kernel
// refuses that address.

import { POLY1305_TAG_LEN } from '../../sys/libcrypto.js';
import { allocNative, freeNative, type NativeBuffer } from '../../sys/native.js';
import { type LocalAddr, sourceRejected } from '../../sys/pktinfo.js';
import type { RawAddr, UdpSocket } from '../../sys/udp.js';
import type { TransportKeypair } from '../core/actions.js';
import { DATA_HEADER_SIZE } from '../core/messages.js';
import { keypairExpired, reserveCounter } from '../core/transport-rules.js';
import { bestCipher, makeCipher, type PacketCipher, sealInPlace } from './cipher.js';
import { ReplyBatch } from './reply-batch.js';
import { SEEN_TX_AUTH, SEEN_TX_DATA, type Shared } from './shared.js';
import { SLOT_BYTES } from './tx.js';

interface MainKeypair {
  peer: number;
  remoteIndex: number;
  created: number;
  sendKey: Uint8Array;
  /** The keypair's send-counter cell (TransportKeypair.sendCounterCell). */
  counter: BigInt64Array;
  cipher: PacketCipher | undefined;
}

/** The source address a datagram leaves from, and what to do when the kernel refuses it. */
export interface SendSource {
  local: LocalAddr | undefined;
  /** The address is gone: forget it (the datagram then goes without one). */
  rejected(): void;
}

/** sendTo from `source.local`, falling back to no source (once per SendSource) when refused. */
function sendFrom(sock: UdpSocket, to: RawAddr, addr: number, len: number, source?: SendSource): number {
  const local = source?.local;
  const r = sock.sendTo(to, addr, len, local);
  if (r >= 0 || !local || !sourceRejected(-r)) return r;
  source.local = undefined;
  source.rejected();
  return sock.sendTo(to, addr, len);
}

export class MainSender {
  mtu: number;
  private readonly keypairs = new Map<number, MainKeypair>();
  private readonly scratch: NativeBuffer;
  private readonly kind = bestCipher();
  /** Handshake messages of the current answering slice (reply-batch.ts). */
  readonly replies: ReplyBatch;

  /** `beforeEarlyReplies`: what must go before replies that leave ahead of a slice's end. */
  constructor(
    private readonly shared: Shared,
    mtu: number,
    beforeEarlyReplies?: () => void,
  ) {
    this.mtu = mtu;
    this.replies = new ReplyBatch(beforeEarlyReplies);
    this.scratch = allocNative(SLOT_BYTES);
  }

  install(slot: number, peer: number, k: TransportKeypair): void {
    this.remove(slot);
    this.keypairs.set(slot, {
      peer,
      remoteIndex: k.remoteIndex >>> 0,
      created: k.created,
      sendKey: Uint8Array.from(k.sendKey),
      counter: k.sendCounterCell,
      cipher: undefined,
    });
  }

  remove(slot: number): void {
    const kp = this.keypairs.get(slot);
    if (!kp) return;
    kp.sendKey.fill(0);
    kp.cipher?.free();
    this.keypairs.delete(slot);
  }

  peerOf(slot: number): number | undefined {
    return this.keypairs.get(slot)?.peer;
  }

  keypairsOf(peer: number): number[] {
    const out: number[] = [];
    for (const [slot, kp] of this.keypairs) if (kp.peer === peer) out.push(slot);
    return out;
  }

  send(
    sock: UdpSocket,
    peer: number,
    to: RawAddr,
    packets: Uint8Array[],
    now: number,
    source?: SendSource,
  ): number {
    const slot = this.shared.sendKeypair(peer);
    const kp = slot >= 0 ? this.keypairs.get(slot) : undefined;
    if (!kp || kp.peer !== peer || keypairExpired(kp.created, now)) return 0;
    kp.cipher ??= makeCipher(this.kind, kp.sendKey, true);
    const s = this.scratch;
    let sent = 0;
    let tried = false;
    let data = false;
    let used = 0;
    for (const p of packets) {
      if (p.length > SLOT_BYTES - DATA_HEADER_SIZE - POLY1305_TAG_LEN - 16) continue;
      const counter = reserveCounter(kp.counter);
      if (counter === undefined) break;
      s.bytes.set(p, DATA_HEADER_SIZE);
      const total = sealInPlace(kp.cipher, s, DATA_HEADER_SIZE, p.length, this.mtu, kp.remoteIndex, counter);
      used = Math.max(used, total);
      // Sent or refused, it counts for the timers (tx.ts says why); bytes only when sent.
      tried = true;
      if (p.length > 0) data = true;
      if (sendFrom(sock, to, s.addr, total, source) !== total) continue;
      this.shared.addBytes(0, peer, 0, total);
      sent++;
    }
    s.bytes.fill(0, 0, used); // no plaintext left behind
    if (tried) this.shared.markSeen(0, peer, SEEN_TX_AUTH, now);
    if (data) this.shared.markSeen(0, peer, SEEN_TX_DATA, now);
    return sent;
  }

  /**
   * Sends `data` as is; inside `replies.collect`, queued and sent at the end of it (then true,
   * and `failed` is called later if the kernel refuses it). Counted as sent to `peer`.
   */
  sendRaw(
    sock: UdpSocket,
    to: RawAddr,
    data: Uint8Array,
    peer?: number,
    source?: SendSource,
    failed?: () => void,
  ): boolean {
    if (this.replies.active) {
      const q = {
        to,
        len: data.length,
        sent: (len: number) => {
          if (peer !== undefined) this.shared.addBytes(0, peer, 0, len);
        },
        retry: (addr: number, len: number) => sendFrom(sock, to, addr, len, source),
        failed: () => failed?.(),
      };
      if (this.replies.add(sock, data, q, source?.local)) return true;
    }
    if (data.length > this.scratch.size) return false;
    this.scratch.bytes.set(data, 0);
    const ok = sendFrom(sock, to, this.scratch.addr, data.length, source) === data.length;
    this.scratch.bytes.fill(0, 0, data.length);
    if (ok && peer !== undefined) this.shared.addBytes(0, peer, 0, data.length);
    if (!ok) failed?.();
    return ok;
  }

  dispose(): void {
    for (const slot of [...this.keypairs.keys()]) this.remove(slot);
    this.replies.free();
    freeNative(this.scratch);
  }
}
