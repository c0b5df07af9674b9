// IP address text both ways, the way glibc does it, because wg's output is glibc's output:
// - inet_pton (strict: dotted quad without leading zeros; RFC 4291 text with one `::` and an
//   optional trailing dotted quad), used for `allowed_ip=` in get replies;
// - inet_aton's numeric forms (`127.1`, `0x7f.0.0.1`), which getaddrinfo accepts for IPv4 hosts;
// - inet_ntop, with glibc's quirks: the longest run (>= 2) of zero groups becomes `::`, the first
//   one on ties, and an address whose first 96 bits are zero (other than `::` and `::1`-like runs
//   of 7) prints with a dotted tail: `::2:3` is written `::0.2.0.3`, `::ffff:0:0` `::ffff:0.0.0.0`.
// Pure functions over bytes and strings.

import type { AllowedIP, SockAddr } from '../model/index.js';

const DIGIT = /^[0-9]$/;
const HEX_DIGIT = /^[0-9a-fA-F]$/;

/** glibc inet_pton(AF_INET): four decimal octets, no leading zeros, nothing else. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let octet = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return undefined; // a leading zero
      value = value * 10 + (c - 0x30);
      if (value > 255) return undefined;
      digits++;
    } else if (c === 0x2e) {
      if (digits === 0 || octet === 3) return undefined;
      out[octet++] = value;
      value = 0;
      digits = 0;
    } else return undefined;
  }
  if (digits === 0 || octet !== 3) return undefined;
  out[3] = value;
  return out;
}

/** glibc inet_pton(AF_INET6). */
export function parseIPv6(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  if (text.length === 0) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string, last: boolean): number[] | undefined => {
    if (s.length === 0) return [];
    const words: number[] = [];
    const toks = s.split(':');
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]!;
      if (last && i === toks.length - 1 && t.includes('.')) {
        const v4 = parseIPv4(t);
        if (!v4) return undefined;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (t.length === 0 || t.length > 4) return undefined;
      for (const c of t) if (!HEX_DIGIT.test(c)) return undefined;
      words.push(Number.parseInt(t, 16));
    }
    return words;
  };
  if (halves.length === 1) {
    const words = groupsOf(text, true);
    if (words?.length !== 8) return undefined;
    for (let i = 0; i < 8; i++) writeWord(out, i, words[i]!);
    return out;
  }
  const head = groupsOf(halves[0]!, false);
  const tail = groupsOf(halves[1]!, true);
  // `::` stands for at least one group of zeros.
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  for (let i = 0; i < head.length; i++) writeWord(out, i, head[i]!);
  for (let i = 0; i < tail.length; i++) writeWord(out, 8 - tail.length + i, tail[i]!);
  return out;
}

function writeWord(out: Uint8Array, i: number, w: number): void {
  out[2 * i] = w >> 8;
  out[2 * i + 1] = w & 0xff;
}

/**
 * glibc inet_aton_exact (what getaddrinfo uses for a numeric IPv4 host): one to four parts,
 * each decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes.
 */
export function parseIPv4Aton(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const values: bigint[] = [];
  for (const p of parts) {
    if (p.length === 0 || !DIGIT.test(p[0]!)) return undefined;
    let v: bigint;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) v = p.length === 2 ? 0n : BigInt(`0x${p.slice(2)}`);
    else if (/^0[0-7]*$/.test(p)) v = p.length === 1 ? 0n : BigInt(`0o${p.slice(1)}`);
    else if (/^[1-9][0-9]*$/.test(p)) v = BigInt(p);
    else return undefined;
    values.push(v);
  }
  const leading = values.slice(0, -1);
  if (leading.some((v) => v > 255n)) return undefined;
  const lastBytes = 4 - leading.length;
  const last = values[values.length - 1]!;
  if (last >= 1n << BigInt(8 * lastBytes)) return undefined;
  const out = new Uint8Array(4);
  leading.forEach((v, i) => {
    out[i] = Number(v);
  });
  for (let i = 0; i < lastBytes; i++) out[3 - i] = Number((last >> BigInt(8 * i)) & 0xffn);
  return out;
}

export function formatIPv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** glibc inet_ntop(AF_INET6). */
export function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) tails.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += formatIPv4(bytes.subarray(12, 16));
      break;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Address bytes as glibc prints them. */
export function formatAddress(family: 4 | 6, bytes: Uint8Array): string {
  return family === 4 ? formatIPv4(bytes) : formatIPv6(bytes);
}

/** `ip/cidr` with the address in inet_ntop form (wg's allowed-ips text). */
export function formatAllowedIP(ip: AllowedIP): string {
  return `${formatAddress(ip.family, ip.address)}/${ip.cidr}`;
}

/**
 * The numeric host text of a socket address as getnameinfo(NI_NUMERICHOST) gives it: the
 * address re-printed in glibc form (whatever text the backend used) and `%scope` when set.
 */
export function formatHost(addr: SockAddr): string {
  const bytes = addr.family === 4 ? parseIPv4Aton(addr.address) : parseIPv6(addr.address);
  const host = bytes ? formatAddress(addr.family, bytes) : addr.address;
  return addr.family === 6 && addr.scope !== undefined && addr.scope !== '' ? `${host}%${addr.scope}` : host;
}

/** `a.b.c.d:port` or `[v6%scope]:port`, exactly as wg prints an endpoint. */
export function formatSockAddr(addr: SockAddr): string {
  const host = formatHost(addr);
  return addr.family === 6 && host.includes(':') ? `[${host}]:${addr.port}` : `${host}:${addr.port}`;
}

/** The same socket address? Address compared by value (text forms may differ), then port and scope. */
export function sameSockAddr(a: SockAddr, b: SockAddr): boolean {
  return (
    a.family === b.family &&
    a.port === b.port &&
    (a.scope ?? '') === (b.scope ?? '') &&
    formatHost(a) === formatHost(b)
  );
}
