// rtnetlink notifications (rtnetlink(7)): a NETLINK_ROUTE socket bound to the multicast groups
// of links, IPv4/IPv6 addresses and IPv4/IPv6 routes, so the engine hears of local network
// changes as they happen rather than by polling. Also the dumps (RTM_GETLINK/GETADDR/GETROUTE
// with NLM_F_DUMP) that tell what exists when watching starts.
//
// The socket is non-blocking and is read on the main thread. What waits for it is a poll(2)
// on the socket and an eventfd, run through koffi's asynchronous call: it blocks one thread of
// libuv's pool (not the event loop) and calls back on the main thread when the socket has
// something or the eventfd was woken by close(). The socket is only closed once that poll has
// returned, so the fd number is never reused under a waiting poll.
//
// A netlink socket belongs to the namespace of the thread that created it, for good: moving
// the engine's interface elsewhere (`ip link set wg0 netns X`) leaves it listening where the
// UDP socket is, which is where the paths to the peers start.

import { libc, SysError } from './libc.js';
import { allocNative, closeFd, freeNative, type NativeBuffer, POLLIN, Waker } from './native.js';
import { NETLINK_ROUTE, NetlinkSocket } from './netlink.js';

export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
export const ENOBUFS = 105;

/** The groups the engine watches, as a bind-time mask (bit n-1 for group n). */
const WATCHED_GROUPS = [
  RTNLGRP_LINK,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
].reduce((mask, g) => mask | (1 << (g - 1)), 0);

/** Big enough for any one notification datagram (the kernel sizes them to a page or so). */
const RECV_BUF = 64 * 1024;
const POLLFD_SIZE = 8;
const MAX_POLL_FAILURES = 100;

type AsyncPoll = {
  async: (fds: number, n: number, timeout: number, cb: (err: unknown, r: number) => void) => void;
};

let pollFn: AsyncPoll | undefined;

function asyncPoll(): AsyncPoll {
  if (!pollFn) pollFn = libc().func('int poll(uintptr_t fds, unsigned long nfds, int timeout)') as AsyncPoll;
  return pollFn;
}

export class RouteEvents {
  private readonly buf = new Uint8Array(RECV_BUF);
  private readonly waker = new Waker();
  private readonly fds: NativeBuffer;
  private waiting = false;
  private closed = false;
  private released = false;
  /** poll(2) failures in a row. */
  private failures = 0;

  private constructor(private readonly sock: NetlinkSocket) {
    this.fds = allocNative(2 * POLLFD_SIZE);
    this.fds.view.setInt32(0, sock.fd, true);
    this.fds.view.setInt16(4, POLLIN, true);
    this.fds.view.setInt32(POLLFD_SIZE, this.waker.fd, true);
    this.fds.view.setInt16(POLLFD_SIZE + 4, POLLIN, true);
  }

  /** Opens the subscription in the calling thread's namespace; throws SysError if it cannot. */
  static open(): RouteEvents {
    const sock = NetlinkSocket.open(NETLINK_ROUTE, { groups: WATCHED_GROUPS, nonBlocking: true });
    try {
      return new RouteEvents(sock);
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  /**
   * Calls `fn` on the main thread once the socket has something to read (or the wait failed:
   * `fn` then gets the error). Not after close(). One wait at a time.
   */
  wait(fn: (err?: Error) => void): void {
    if (this.closed || this.waiting) return;
    this.waiting = true;
    asyncPoll().async(this.fds.addr, 2, -1, (err, r) => {
      this.waiting = false;
      if (this.closed) {
        this.release();
        return;
      }
      // poll(2) fails only when interrupted, in practice (EINTR: a signal reached that pool
      // thread; its errno is not this thread's to read): the caller reads nothing and waits
      // again. Failing many times in a row is not that: it is reported.
      this.failures = r < 0 ? this.failures + 1 : 0;
      if (err) fn(err as Error);
      else if (this.failures > MAX_POLL_FAILURES) fn(new Error('poll keeps failing'));
      else fn();
    });
  }

  /**
   * The datagrams queued now, each copied out. Throws SysError ENOBUFS when the kernel had to
   * drop notifications (the socket's buffer overflowed): what changed is then unknown.
   */
  read(max = 256): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < max && !this.closed; i++) {
      const d = this.sock.tryRecv(this.buf);
      if (!d) break;
      out.push(d.slice());
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.waiting) this.waker.wake();
    else this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.sock.close();
    closeFd(this.waker.fd);
    this.waker.free();
    freeNative(this.fds);
  }
}

/**
 * Dumps one rtnetlink table (RTM_GETLINK, RTM_GETADDR or RTM_GETROUTE, every family) and
 * returns the datagrams of the answer (the last one holds NLMSG_DONE). Throws SysError on NLMSG_ERROR.
 */
export function rtnlDump(type: number): Uint8Array[] {
  const body = type === RTM_GETLINK ? 16 : type === RTM_GETROUTE ? 12 : 8;
  const req = new Uint8Array(16 + body);
  const v = new DataView(req.buffer);
  v.setUint32(0, req.length, true);
  v.setUint16(4, type, true);
  v.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
  v.setUint32(8, 1, true);
  const sock = NetlinkSocket.open(NETLINK_ROUTE, { recvTimeoutMs: 5000 });
  try {
    sock.send(req);
    const out: Uint8Array[] = [];
    const buf = new Uint8Array(RECV_BUF);
    for (;;) {
      const d = sock.recv(buf).slice();
      out.push(d);
      const dv = new DataView(d.buffer);
      for (let off = 0; off + 16 <= d.length; ) {
        const len = dv.getUint32(off, true);
        const t = dv.getUint16(off + 4, true);
        if (t === NLMSG_DONE) return out;
        if (t === NLMSG_ERROR) {
          const code = off + 20 <= d.length ? -dv.getInt32(off + 16, true) : 0;
          if (code !== 0) throw new SysError('rtnetlink dump', code);
        }
        if (len < 16) break;
        off += (len + 3) & ~3;
      }
    }
  } finally {
    sock.close();
  }
}
