// Handshake messages from a receive worker to the main thread, packed: all those of one
// recvmmsg batch go in one ArrayBuffer, transferred with one postMessage. Posting each message
// as its own object with its addresses cost ~19 us of CPU per message in structured cloning
// (worker and main thread together, measured on a 2-CPU test VM; ~1 us packed), which under a
// flood was most of what the main thread did.
//
// Record: length(u16) nameLen(u8) controlLen(u8) sockaddr(nameLen) control(controlLen) message
// The sockaddr and the ancillary data (the arrival address, sys/pktinfo.ts) are copied as
// recvmmsg wrote them; the main thread decodes them.

import { CONTROL_SIZE, decodePktinfo, type LocalAddr } from '../../sys/pktinfo.js';
import { decodeSockaddr, type RawAddr, SOCKADDR_SIZE } from '../../sys/udp.js';
import { INITIATION_SIZE } from '../core/messages.js';

const HEADER = 4;
/** The most bytes one record takes (an initiation is the largest handshake message). */
export const MAX_RECORD = HEADER + SOCKADDR_SIZE + CONTROL_SIZE + INITIATION_SIZE;

/** Collects the handshake messages of one batch in the worker. */
export class HandshakeBatchWriter {
  private readonly scratch: Uint8Array;
  private used = 0;
  count = 0;

  /** `capacity`: the most messages one batch can hold (the recvmmsg batch size). */
  constructor(capacity: number) {
    this.scratch = new Uint8Array(capacity * MAX_RECORD);
  }

  /**
   * Appends one message: `len` bytes at `src[off]`, from the sockaddr at `src[name]`, with
   * `ctlLen` bytes of ancillary data at `src[ctl]`.
   */
  add(src: Uint8Array, off: number, len: number, name: number, ctl: number, ctlLen: number): void {
    const b = this.scratch;
    const c = Math.min(ctlLen, CONTROL_SIZE);
    const m = Math.min(len, INITIATION_SIZE);
    let at = this.used;
    b[at] = m & 0xff;
    b[at + 1] = m >> 8;
    b[at + 2] = SOCKADDR_SIZE;
    b[at + 3] = c;
    at += HEADER;
    b.set(src.subarray(name, name + SOCKADDR_SIZE), at);
    at += SOCKADDR_SIZE;
    b.set(src.subarray(ctl, ctl + c), at);
    at += c;
    b.set(src.subarray(off, off + m), at);
    this.used = at + m;
    this.count++;
  }

  /**
   * Hands over what was collected, copied into a buffer of its own (to transfer), or undefined
   * when nothing was; wipes the scratch space and starts afresh.
   */
  take(): { buf: ArrayBuffer; used: number; count: number } | undefined {
    if (this.count === 0) return undefined;
    const out = { buf: this.scratch.slice(0, this.used).buffer, used: this.used, count: this.count };
    this.scratch.fill(0, 0, this.used);
    this.used = 0;
    this.count = 0;
    return out;
  }
}

/**
 * Calls `fn` for each record of a batch, in order. `data` is a view into `buf` (copy it to
 * keep it beyond the call); `from` is undefined for an address family the socket cannot have.
 */
export function readHandshakeBatch(
  buf: ArrayBuffer,
  used: number,
  fn: (data: Uint8Array, from: RawAddr | undefined, local: LocalAddr | undefined) => void,
): void {
  const bytes = new Uint8Array(buf, 0, used);
  const view = new DataView(buf, 0, used);
  for (let at = 0; at + HEADER <= used; ) {
    const len = bytes[at]! | (bytes[at + 1]! << 8);
    const nameLen = bytes[at + 2]!;
    const ctlLen = bytes[at + 3]!;
    const name = at + HEADER;
    const ctl = name + nameLen;
    const data = ctl + ctlLen;
    if (data + len > used) return; // cannot happen with a writer's buffer
    fn(bytes.subarray(data, data + len), decodeSockaddr(view, name), decodePktinfo(bytes, ctl, ctlLen));
    at = data + len;
  }
}
