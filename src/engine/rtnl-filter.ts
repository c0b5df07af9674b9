// Which rtnetlink notifications (rtnetlink(7); layouts in the kernel's
// include/uapi/linux/rtnetlink.h, if_addr.h and if_link.h) are a local network change worth a
// new selection round, and which are noise.
//
// Not a change:
// - anything about the engine's own interface (its index): wg-quick adding the tunnel's
//   addresses and routes, or the interface going down, says nothing about the paths to peers;
// - the `local` routing table (255): the kernel fills it from addresses, already counted;
// - cloned routes (RTM_F_CLONED: IPv6 route cache and PMTU exceptions), which traffic creates;
// - an address announced again unchanged (the kernel re-sends RTM_NEWADDR when a router
//   advertisement refreshes lifetimes, addrconf.c update_lft), or one still tentative (IPv6
//   duplicate address detection: unusable until it ends, when a new RTM_NEWADDR says so);
// - a link message that does not change whether the link is up and running (MTU, names,
//   bridge-port messages of family AF_BRIDGE), or a link that comes and goes down.
// Everything else counts: an address becoming usable or going, a route added or removed in any
// other table, a link going up or down. Addresses and links are tracked by key, seeded from
// dumps, so "unchanged" can be told; routes are not (a full routing table may be huge).
//
// Pure (sys/rtnl.ts lends only constants): datagrams in, descriptions of what changed out (for
// the verbose log).

import { inetNtop } from '../model/inet.js';
import {
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
} from '../sys/rtnl.js';

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_INET6 = 10;

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
const IFA_F_DADFAILED = 0x08;
const IFA_F_DEPRECATED = 0x20;
const IFA_F_TENTATIVE = 0x40;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTM_F_CLONED = 0x200;
const RT_TABLE_LOCAL = 255;

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

type AddrState = 'usable' | 'deprecated' | 'unusable';

const align4 = (n: number) => (n + 3) & ~3;

/** The attributes (rtattr, 4-byte aligned) of `b` from `off` to `end`: type → payload. */
export function attrs(b: Uint8Array, off: number, end: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (off + 4 <= end) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > end) break;
    out.set(v.getUint16(off + 2, true) & 0x3fff, b.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** The netlink messages of one datagram: type and the bytes after the header. */
export function messages(d: Uint8Array): { type: number; body: Uint8Array }[] {
  const out: { type: number; body: Uint8Array }[] = [];
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  for (let off = 0; off + NLMSG_HDRLEN <= d.length; ) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > d.length) break;
    out.push({ type: v.getUint16(off + 4, true), body: d.subarray(off + NLMSG_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

function u32(b: Uint8Array | undefined): number | undefined {
  return b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined;
}

function ip(b: Uint8Array | undefined): string | undefined {
  return b && (b.length === 4 || b.length === 16) ? inetNtop(b) : undefined;
}

export class NetChangeFilter {
  /** Each link (index) seen: whether it is up and running. */
  private readonly links = new Map<number, boolean>();
  /** Each address (`index address/len`) seen, and whether it can be used. */
  private readonly addrs = new Map<string, AddrState>();

  /**
   * `own()` is the engine's interface index in this namespace, or undefined when it is not
   * here (moved elsewhere); `name(i)` names an interface for the descriptions.
   */
  constructor(
    private readonly own: () => number | undefined,
    private readonly name: (index: number) => string = (i) => `#${i}`,
  ) {}

  /** Learns the state a dump (or any notification) describes, counting nothing. */
  seed(datagrams: Iterable<Uint8Array>): void {
    const own = this.own();
    for (const d of datagrams) for (const m of messages(d)) this.apply(m.type, m.body, own);
  }

  /** Forgets what was learnt (before seeding again after notifications were lost). */
  reset(): void {
    this.links.clear();
    this.addrs.clear();
  }

  /** What changed according to these datagrams, one description per change; [] for none. */
  changes(datagrams: Iterable<Uint8Array>): string[] {
    const own = this.own();
    const out: string[] = [];
    for (const d of datagrams)
      for (const m of messages(d)) {
        const c = this.apply(m.type, m.body, own);
        if (c) out.push(c);
      }
    return out;
  }

  private apply(type: number, body: Uint8Array, own: number | undefined): string | undefined {
    switch (type) {
      case RTM_NEWLINK:
      case RTM_DELLINK:
        return this.link(type === RTM_NEWLINK, body, own);
      case RTM_NEWADDR:
      case RTM_DELADDR:
        return this.addr(type === RTM_NEWADDR, body, own);
      case RTM_NEWROUTE:
      case RTM_DELROUTE:
        return this.route(type === RTM_NEWROUTE, body, own);
      default:
        return undefined;
    }
  }

  private link(added: boolean, b: Uint8Array, own: number | undefined): string | undefined {
    if (b.length < IFINFOMSG_LEN || b[0] !== AF_UNSPEC) return undefined;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const index = v.getInt32(4, true);
    if (index === own) return undefined;
    const running = (v.getUint32(8, true) & (IFF_UP | IFF_RUNNING)) === (IFF_UP | IFF_RUNNING);
    const was = this.links.get(index) ?? false;
    if (added) this.links.set(index, running);
    else this.links.delete(index);
    const now = added && running;
    if (now === was) return undefined;
    return `link ${this.name(index)} ${now ? 'up' : added ? 'down' : 'removed'}`;
  }

  private addr(added: boolean, b: Uint8Array, own: number | undefined): string | undefined {
    if (b.length < IFADDRMSG_LEN || (b[0] !== AF_INET && b[0] !== AF_INET6)) return undefined;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const index = v.getUint32(4, true);
    if (index === own) return undefined;
    const a = attrs(b, IFADDRMSG_LEN, b.length);
    const address = ip(a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS));
    if (!address) return undefined;
    const flags = u32(a.get(IFA_FLAGS)) ?? b[2]!;
    const key = `${index} ${address}/${b[1]}`;
    const state: AddrState =
      flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)
        ? 'unusable'
        : flags & IFA_F_DEPRECATED
          ? 'deprecated'
          : 'usable';
    const was = this.addrs.get(key) ?? 'unusable';
    if (added) this.addrs.set(key, state);
    else this.addrs.delete(key);
    const now = added ? state : 'unusable';
    if (now === was) return undefined;
    const what = `address ${address}/${b[1]} on ${this.name(index)}`;
    if (now === 'unusable') return `${what} ${added ? 'unusable' : 'removed'}`;
    return `${what} ${was === 'unusable' ? 'added' : now}`;
  }

  private route(added: boolean, b: Uint8Array, own: number | undefined): string | undefined {
    if (b.length < RTMSG_LEN || (b[0] !== AF_INET && b[0] !== AF_INET6)) return undefined;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (v.getUint32(8, true) & RTM_F_CLONED) return undefined;
    const a = attrs(b, RTMSG_LEN, b.length);
    if ((u32(a.get(RTA_TABLE)) ?? b[4]!) === RT_TABLE_LOCAL) return undefined;
    const oifs: number[] = [];
    const oif = u32(a.get(RTA_OIF));
    if (oif !== undefined) oifs.push(oif);
    const mp = a.get(RTA_MULTIPATH);
    if (mp) {
      // struct rtnexthop { u16 len; u8 flags; u8 hops; int ifindex; } and its attributes.
      const mv = new DataView(mp.buffer, mp.byteOffset, mp.byteLength);
      for (let off = 0; off + 8 <= mp.length; ) {
        const len = mv.getUint16(off, true);
        if (len < 8) break;
        oifs.push(mv.getInt32(off + 4, true));
        off += align4(len);
      }
    }
    if (own !== undefined && oifs.length > 0 && oifs.every((i) => i === own)) return undefined;
    const dst = ip(a.get(RTA_DST)) ?? (b[0] === AF_INET ? '0.0.0.0' : '::');
    const via = ip(a.get(RTA_GATEWAY));
    const dev = oifs.length ? ` dev ${oifs.map((i) => this.name(i)).join(',')}` : '';
    return `route ${dst}/${b[1]}${via ? ` via ${via}` : ''}${dev} ${added ? 'added' : 'removed'}`;
  }
}
