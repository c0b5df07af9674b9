// Inner packets for the TUN and data-plane tests: IPv4/UDP built by hand, with the header
// checksum the kernel checks on a TUN write.

/** IPv4 header checksum (RFC 791 §3.1): ones' complement of the ones' complement sum of the 20 header bytes. */
export function ipv4Checksum(b: Uint8Array, off = 0): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (b[off + i]! << 8) | b[off + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4/UDP packet, TTL 64, header checksum set, UDP checksum 0 (none, allowed for IPv4). */
export function udp4(
  src: number[],
  sport: number,
  dst: number[],
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const p = new Uint8Array(28 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 17;
  p.set(src, 12);
  p.set(dst, 16);
  v.setUint16(10, ipv4Checksum(p));
  v.setUint16(20, sport);
  v.setUint16(22, dport);
  v.setUint16(24, 8 + payload.length);
  p.set(payload, 28);
  return p;
}
