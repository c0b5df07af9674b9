// The local end of a datagram: which of this host's addresses it arrived at, and on which
// interface (IP_PKTINFO / IPV6_PKTINFO ancillary data), so that replies can leave from that
// same address ("sticky source addresses", as kernel WireGuard and wireguard-go keep them).
//
// Receiving: a dual-stack AF_INET6 socket with IPV6_RECVPKTINFO gets one IPV6_PKTINFO message
// per datagram, IPv4 ones included (their address v4-mapped, Linux ip6_datagram_recv_common_ctl);
// an AF_INET socket with IP_PKTINFO gets an IP_PKTINFO message. Enabling both on a dual-stack
// socket would only make the kernel write two messages per IPv4 datagram.
//
// Sending: IPv4 sources go as IP_PKTINFO at SOL_IP, which Linux takes on an AF_INET6 socket too
// when the destination is v4-mapped (udpv6_sendmsg hands those to udp_sendmsg → ip_cmsg_send),
// with ipi_ifindex 0 and the address in ipi_spec_dst: the source only, routing still picks the
// interface, as kernel WireGuard's send4 does (it routes with the source, not the interface).
// IPv6 sources go as IPV6_PKTINFO with ipi6_ifindex set only for a link-local source (whose
// address means nothing without its interface); otherwise 0, again as the kernel's send6.
//
// When a source address is gone, the send fails: measured on Linux 6.18, ENETUNREACH for IPv4
// (ip_route_output_key_hash_rcu finds no device holding the source), EINVAL for IPv6
// (ip6_datagram_send_ctl), ENODEV for an interface index that no longer exists; older kernels
// say EINVAL for IPv4. `sourceRejected` names them: the caller then forgets the source and sends
// again without one, as kernel WireGuard and wireguard-go do.
//
// Layouts (LP64): struct cmsghdr { size_t len; int level; int type; } (16 bytes);
// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; } (12);
// struct in6_pktinfo { in6_addr addr; unsigned ifindex; } (20). CMSG_SPACE rounds to 8.

const SOL_IP = 0;
const SOL_IPV6 = 41;
export const IP_PKTINFO = 8;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPPROTO_IP = SOL_IP;
export const IPPROTO_IPV6 = SOL_IPV6;

export const CMSG_HDR = 16;
const IN_PKTINFO_SIZE = 12;
const IN6_PKTINFO_SIZE = 20;
/** CMSG_SPACE(sizeof(struct in_pktinfo)). */
export const PKTINFO4_SPACE = CMSG_HDR + 16;
/** CMSG_SPACE(sizeof(struct in6_pktinfo)). */
export const PKTINFO6_SPACE = CMSG_HDR + 24;
/** Room for the one message a datagram carries (and for what a send needs). */
export const CONTROL_SIZE = 64;

const EINVAL = 22;
const ENODEV = 19;
const EADDRNOTAVAIL = 99;
const ENETUNREACH = 101;

/** One of this host's addresses and the interface a datagram arrived on (0: not known). */
export interface LocalAddr {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  address: Uint8Array;
  ifindex: number;
}

/** Whether the 16 bytes at `off` are an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
export const isV4Mapped = (b: Uint8Array, off: number): boolean => {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
};

const isLinkLocal6 = (a: Uint8Array): boolean => a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;

/**
 * Reads the destination address out of the ancillary data at `bytes[off, off + len)` (what
 * recvmsg wrote): the first IPV6_PKTINFO or IP_PKTINFO message. A v4-mapped address comes
 * back as IPv4.
 */
export function decodePktinfo(bytes: Uint8Array, off: number, len: number): LocalAddr | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = off;
  while (at + CMSG_HDR <= off + len) {
    const cmsgLen = Number(v.getBigUint64(at, true));
    if (cmsgLen < CMSG_HDR || at + cmsgLen > off + len) return undefined;
    const level = v.getInt32(at + 8, true);
    const type = v.getInt32(at + 12, true);
    const data = at + CMSG_HDR;
    if (level === SOL_IPV6 && type === IPV6_PKTINFO && cmsgLen >= CMSG_HDR + IN6_PKTINFO_SIZE) {
      const ifindex = v.getUint32(data + 16, true);
      if (isV4Mapped(bytes, data)) return { family: 4, address: bytes.slice(data + 12, data + 16), ifindex };
      return { family: 6, address: bytes.slice(data, data + 16), ifindex };
    }
    if (level === SOL_IP && type === IP_PKTINFO && cmsgLen >= CMSG_HDR + IN_PKTINFO_SIZE) {
      // ipi_addr: the header's destination (kernel WireGuard uses ip_hdr(skb)->daddr too).
      return { family: 4, address: bytes.slice(data + 8, data + 12), ifindex: v.getInt32(data, true) };
    }
    at += (cmsgLen + 7) & ~7;
  }
  return undefined;
}

/**
 * Writes the ancillary message that makes a datagram leave from `src` at `off` (zeroing its
 * padding) and returns its length for msg_controllen.
 */
export function encodePktinfo(src: LocalAddr, out: DataView, off: number): number {
  if (src.family === 4) {
    for (let i = 0; i < PKTINFO4_SPACE; i++) out.setUint8(off + i, 0);
    out.setBigUint64(off, BigInt(CMSG_HDR + IN_PKTINFO_SIZE), true);
    out.setInt32(off + 8, SOL_IP, true);
    out.setInt32(off + 12, IP_PKTINFO, true);
    // ipi_ifindex 0; ipi_spec_dst = the source; ipi_addr unused when sending.
    for (let i = 0; i < 4; i++) out.setUint8(off + CMSG_HDR + 4 + i, src.address[i]!);
    return PKTINFO4_SPACE;
  }
  for (let i = 0; i < PKTINFO6_SPACE; i++) out.setUint8(off + i, 0);
  out.setBigUint64(off, BigInt(CMSG_HDR + IN6_PKTINFO_SIZE), true);
  out.setInt32(off + 8, SOL_IPV6, true);
  out.setInt32(off + 12, IPV6_PKTINFO, true);
  for (let i = 0; i < 16; i++) out.setUint8(off + CMSG_HDR + i, src.address[i]!);
  out.setUint32(off + CMSG_HDR + 16, isLinkLocal6(src.address) ? src.ifindex >>> 0 : 0, true);
  return PKTINFO6_SPACE;
}

/** Does a send that carried a source fail because of that source (gone, or its interface)? */
export function sourceRejected(errno: number): boolean {
  return errno === EINVAL || errno === ENETUNREACH || errno === EADDRNOTAVAIL || errno === ENODEV;
}
