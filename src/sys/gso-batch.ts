// Sending a MsgBatch with UDP_SEGMENT (udp-gso.ts): consecutive datagrams of one batch to one
// destination, from one source, of one length (the last of a run may be shorter) become one
// message whose iovecs are those datagrams' own, with a UDP_SEGMENT control message of that
// length after their source address; the kernel cuts it back into the same datagrams. The
// messages are headers of their own (`GsoBatch`, native memory), pointing at the batch's
// names, iovecs and control areas, so the batch's per-datagram headers stay as they were and
// the caller can still send any of them one by one (after a refusal, say).
//
// A run is at most UDP_MAX_SEGMENTS datagrams and UDP_MAX_PAYLOAD bytes (what the kernel takes
// in one send: udp_send_skb, and an IPv4 datagram's 16-bit length), as wireguard-go's
// StdNetBind coalesces (conn/bind_std.go, coalesceMessages).

import { type MsgBatch, sendMessages } from './msg-batch.js';
import { allocNative, freeNative, type NativeBuffer } from './native.js';
import { CONTROL_SIZE, PKTINFO6_SPACE } from './pktinfo.js';
import {
  MMSGHDR_SIZE,
  MSG_CONTROL,
  MSG_CONTROLLEN,
  MSG_FLAGS,
  MSG_IOV,
  MSG_IOVLEN,
  MSG_NAMELEN,
  setU64,
} from './sockaddr.js';
import { encodeUdpSegment, UDP_MAX_PAYLOAD, UDP_MAX_SEGMENTS, UDP_SEGMENT_SPACE } from './udp-gso.js';

export class GsoBatch {
  private readonly batch: MsgBatch;
  private readonly hdrs: NativeBuffer;
  /** Per message k: its first datagram and how many it carries. */
  readonly first: Int32Array;
  readonly segments: Int32Array;
  /** Messages built by the last `build`. */
  count = 0;

  constructor(batch: MsgBatch) {
    if (CONTROL_SIZE < PKTINFO6_SPACE + UDP_SEGMENT_SPACE)
      throw new Error('control area too small for UDP_SEGMENT');
    this.batch = batch;
    this.hdrs = allocNative(batch.count * MMSGHDR_SIZE);
    this.first = new Int32Array(batch.count);
    this.segments = new Int32Array(batch.count);
  }

  /**
   * Groups datagrams [0, m) of the batch (prepared for sending: `prepareEncoded`, `point`)
   * into messages. `key[j]` tells which datagrams may share a message (the same key for the
   * same destination and source); `lens[j]` is datagram j's length. Returns the message count.
   */
  build(m: number, key: Int32Array, lens: Int32Array): number {
    const b = this.batch;
    const bv = b.mem.view;
    const v = this.hdrs.view;
    const base = b.mem.addr;
    let k = 0;
    for (let j = 0; j < m; ) {
      const size = lens[j]!;
      let n = 1;
      let total = size;
      while (
        j + n < m &&
        n < UDP_MAX_SEGMENTS &&
        key[j + n] === key[j] &&
        lens[j + n]! <= size &&
        total + lens[j + n]! <= UDP_MAX_PAYLOAD
      ) {
        total += lens[j + n]!;
        n++;
        if (lens[j + n - 1]! < size) break; // a shorter one ends the run
      }
      const h = k * MMSGHDR_SIZE;
      const bh = j * MMSGHDR_SIZE;
      setU64(v, h, base + b.nameOffset(j));
      v.setUint32(h + MSG_NAMELEN, bv.getUint32(bh + MSG_NAMELEN, true), true);
      setU64(v, h + MSG_IOV, base + b.iovOffset(j));
      setU64(v, h + MSG_IOVLEN, n);
      let clen = bv.getUint32(bh + MSG_CONTROLLEN, true);
      if (n > 1) clen += encodeUdpSegment(bv, b.controlOffset(j) + clen, size);
      setU64(v, h + MSG_CONTROL, clen > 0 ? base + b.controlOffset(j) : 0);
      setU64(v, h + MSG_CONTROLLEN, clen);
      v.setInt32(h + MSG_FLAGS, 0, true);
      this.first[k] = j;
      this.segments[k] = n;
      k++;
      j += n;
    }
    this.count = k;
    return k;
  }

  /**
   * Sends messages [from, from + n) with one sendmmsg call, without blocking: how many the
   * kernel took, or -errno when it took none.
   */
  send(fd: number, from: number, n: number): number {
    return n <= 0 ? 0 : sendMessages(fd, this.hdrs.addr + from * MMSGHDR_SIZE, n);
  }

  free(): void {
    freeNative(this.hdrs);
  }
}
