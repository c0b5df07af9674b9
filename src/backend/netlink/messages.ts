// Splitting a received datagram into netlink messages, and reading the control messages
// (NLMSG_ERROR, NLMSG_DONE) the way libmnl's callbacks in wireguard-tools do.

import { HOST_LE } from './attrs.js';
import { EBADMSG, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN } from './constants.js';
import { NetlinkError } from './errors.js';

export interface Message {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the 16-byte header, up to the message's own length. */
  payload: Uint8Array;
}

/** The messages of one datagram, in order. A truncated message is an error. */
export function splitMessages(datagram: Uint8Array): Message[] {
  const out: Message[] = [];
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  let at = 0;
  while (at + NLMSG_HDRLEN <= datagram.length) {
    const len = view.getUint32(at, HOST_LE);
    if (len < NLMSG_HDRLEN || at + len > datagram.length) {
      throw new NetlinkError(EBADMSG, `truncated netlink message (length ${len})`);
    }
    out.push({
      type: view.getUint16(at + 4, HOST_LE),
      flags: view.getUint16(at + 6, HOST_LE),
      seq: view.getUint32(at + 8, HOST_LE),
      pid: view.getUint32(at + 12, HOST_LE),
      payload: datagram.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += (len + 3) & ~3;
  }
  return out;
}

/**
 * The error of an NLMSG_ERROR message as a positive errno, 0 for an ACK. Netlink families
 * report errors with either sign, so the sign is dropped (as wireguard-tools does).
 */
export function errorOf(msg: Message): number {
  if (msg.type !== NLMSG_ERROR) throw new Error('not an NLMSG_ERROR message');
  if (msg.payload.length < 4 + NLMSG_HDRLEN) {
    throw new NetlinkError(EBADMSG, 'short NLMSG_ERROR message');
  }
  return Math.abs(new DataView(msg.payload.buffer, msg.payload.byteOffset, 4).getInt32(0, HOST_LE));
}

/** The error an NLMSG_DONE message carries (0 when the dump completed). */
export function doneErrorOf(msg: Message): number {
  if (msg.type !== NLMSG_DONE) throw new Error('not an NLMSG_DONE message');
  if (msg.payload.length < 4) return 0;
  return Math.abs(new DataView(msg.payload.buffer, msg.payload.byteOffset, 4).getInt32(0, HOST_LE));
}
