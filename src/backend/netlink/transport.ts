// One netlink request and its reply: send, then read datagrams until the ACK (NLMSG_ERROR 0)
// or the end of a dump (NLMSG_DONE), handing every data message to a callback. The reading
// rules are a pure function of the datagrams (`readReply`), so they are tested without a kernel.

import { NetlinkSocket } from '../../sys/netlink.js';
import type { MessageBuilder } from './attrs.js';
import {
  EINTR,
  NLM_F_DUMP_INTR,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_MIN_TYPE,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  RECV_BUFFER_SIZE,
} from './constants.js';
import { NetlinkError } from './errors.js';
import { doneErrorOf, errorOf, type Message, splitMessages } from './messages.js';

export type OnData = (msg: Message) => void;

/**
 * Reads one datagram of the reply to request (`seq`, `portId`). Returns true when the reply is
 * complete. Messages meant for another request or socket are skipped. Throws NetlinkError with
 * the kernel's errno for an error reply, and EINTR when the kernel flags a dump as inconsistent
 * (NLM_F_DUMP_INTR: the object changed while it was dumped); data messages before that one have
 * been delivered.
 */
export function readReply(datagram: Uint8Array, seq: number, portId: number, onData: OnData): boolean {
  for (const msg of splitMessages(datagram)) {
    if ((msg.seq !== 0 && msg.seq !== seq) || (msg.pid !== 0 && msg.pid !== portId)) continue;
    if (msg.flags & NLM_F_DUMP_INTR) throw new NetlinkError(EINTR, 'netlink dump interrupted by a change');
    switch (msg.type) {
      case NLMSG_NOOP:
      case NLMSG_OVERRUN:
        continue;
      case NLMSG_ERROR: {
        const err = errorOf(msg);
        if (err !== 0) throw new NetlinkError(err, `netlink request failed (errno ${err})`);
        return true;
      }
      case NLMSG_DONE: {
        const err = doneErrorOf(msg);
        if (err !== 0) throw new NetlinkError(err, `netlink dump failed (errno ${err})`);
        return true;
      }
      default:
        if (msg.type >= NLMSG_MIN_TYPE) onData(msg);
    }
  }
  return false;
}

/** A netlink socket for the length of one operation (one or more requests). */
export class Connection {
  private readonly sock: NetlinkSocket;
  private seq: number;
  private readonly buf = new Uint8Array(RECV_BUFFER_SIZE);

  private constructor(sock: NetlinkSocket) {
    this.sock = sock;
    // Like wg: sequence numbers start from the clock, so replies to an earlier process's
    // requests on a recycled port id cannot be mistaken for ours.
    this.seq = Math.floor(Date.now() / 1000) >>> 0;
  }

  static open(protocol: number): Connection {
    return new Connection(NetlinkSocket.open(protocol));
  }

  /** Sends `msg` with a fresh sequence number and reads the whole reply. */
  request(msg: MessageBuilder, onData: OnData = () => {}): void {
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    this.sock.send(msg.finish(seq));
    while (!readReply(this.sock.recv(this.buf), seq, this.sock.portId, onData)) {
      // each turn waits for the next datagram (bounded by the socket's receive timeout)
    }
  }

  close(): void {
    this.sock.close();
  }
}

/** Runs `fn` with a fresh connection and closes it afterwards. */
export function withConnection<T>(protocol: number, fn: (c: Connection) => T): T {
  const c = Connection.open(protocol);
  try {
    return fn(c);
  } finally {
    c.close();
  }
}
