// The main thread's handshake messages of one answering slice (inbox.ts), sent with one
// sendmmsg(2) at its end instead of one sendto/sendmsg each: under a stream of initiations a
// system call per response was, after the DHs, the largest cost left on the main thread.
//
// Deferring them to the end of the slice also keeps the order the workers rely on: the keypairs
// a slice installed are posted to the workers before any of its responses leave, so the peer's
// first data packet finds its keypair. A flush before the end (a full batch, or another socket)
// keeps it too: it runs `beforeEarlyFlush` first, which posts what the slice holds so far. A
// datagram the kernel refuses is tried once more alone (with sendFrom's fallback for a source
// address that is gone); what still fails is reported to its `failed` callback after the slice,
// as an immediate send reports it at once.

import { MsgBatch } from '../../sys/msg-batch.js';
import type { LocalAddr } from '../../sys/pktinfo.js';
import type { RawAddr, UdpSocket } from '../../sys/udp.js';
import { INITIATION_SIZE } from '../core/messages.js';

/** Messages one sendmmsg carries; a fuller slice flushes early. */
const REPLY_BATCH = 64;

/** One queued message: where it goes, and what to do once it went or did not. */
export interface QueuedReply {
  to: RawAddr;
  len: number;
  /** Sent: count its bytes. */
  sent(len: number): void;
  /** Refused: send it alone (with the fallback); returns the byte count or -errno. */
  retry(addr: number, len: number): number;
  /** Still refused. */
  failed(): void;
}

export class ReplyBatch {
  private batch: MsgBatch | undefined;
  private family: 4 | 6 = 6;
  private readonly queued: QueuedReply[] = [];
  private depth = 0;
  private sock: UdpSocket | undefined;

  /**
   * `beforeEarlyFlush` runs before messages leave ahead of the end of `collect` (dataplane.ts:
   * it posts the keypairs held for the workers so far, which the end of a slice posts first).
   */
  constructor(private readonly beforeEarlyFlush: () => void = () => {}) {}

  /** Whether messages are being collected (inside `collect`). */
  get active(): boolean {
    return this.depth > 0;
  }

  /** Runs `fn`, collecting the messages it sends, and sends them when it returns. */
  collect(sock: () => UdpSocket, fn: () => void): void {
    this.depth++;
    try {
      fn();
    } finally {
      if (--this.depth === 0) this.flush(sock());
    }
  }

  /**
   * Queues `data` (at most INITIATION_SIZE bytes: a handshake message) to leave `sock` from
   * `from` (undefined: the address routing picks). False when it cannot be queued.
   */
  add(sock: UdpSocket, data: Uint8Array, q: QueuedReply, from: LocalAddr | undefined): boolean {
    if (data.length > INITIATION_SIZE) return false;
    if (this.queued.length === REPLY_BATCH || (this.sock && this.sock !== sock)) {
      this.beforeEarlyFlush();
      this.flush(this.sock!);
    }
    if (!this.batch || this.family !== sock.family) {
      this.batch?.free(INITIATION_SIZE);
      this.batch = new MsgBatch(REPLY_BATCH, INITIATION_SIZE, sock.family);
      this.family = sock.family;
    }
    this.sock = sock;
    const i = this.queued.length;
    this.batch.mem.bytes.set(data, this.batch.slotOffset(i));
    this.batch.prepare(i, q.to, data.length, from);
    this.queued.push(q);
    return true;
  }

  private flush(sock: UdpSocket): void {
    const b = this.batch;
    const n = this.queued.length;
    this.sock = undefined;
    if (!b || n === 0) return;
    const failed: QueuedReply[] = [];
    for (let i = 0; i < n; ) {
      const r = b.send(sock.fd, i, n - i);
      const took = Math.max(r, 0);
      for (let k = i; k < i + took; k++) this.queued[k]!.sent(this.queued[k]!.len);
      i += took;
      if (i === n) break;
      // Datagram i was refused: alone, with the fallback, then on with the rest.
      const q = this.queued[i]!;
      const sent = q.retry(b.slotAddr(i), q.len);
      if (sent === q.len) q.sent(q.len);
      else failed.push(q);
      i++;
    }
    for (let i = 0; i < n; i++) b.mem.bytes.fill(0, b.slotOffset(i), b.slotOffset(i) + this.queued[i]!.len);
    this.queued.length = 0;
    for (const q of failed) q.failed();
  }

  free(): void {
    this.batch?.free(INITIATION_SIZE);
    this.batch = undefined;
  }
}
