// Address text <-> bytes, exactly as glibc does it, because wg parses AllowedIPs with inet_pton
// and prints every address with inet_ntop (wireguard-tools show.c ip() and config.c parse_allowedips); and the socket-address text
// wg prints (getnameinfo NI_NUMERICHOST). The one home for this, shared by config, uapi, backend,
// cli and the engine's I/O. Node's net.isIP accepts a slightly different language (zone ids,
// for one), so these are written out here; test/unit/model/inet.test.ts checks the printer
// against Node's SocketAddress, which uses the same BIND-derived algorithm.
// - inet_pton: dotted quad without leading zeros; RFC 4291 text with one `::` and an optional
//   trailing dotted quad;
// - inet_aton's numeric forms (`127.1`, `0x7f.0.0.1`), which getaddrinfo accepts for IPv4 hosts;
// - inet_ntop, with glibc's quirks: the longest run (>= 2) of zero groups becomes `::`, the first
//   one on ties, and an address whose first 96 bits are zero (a run of exactly six groups) or
//   that is IPv4-mapped prints with a dotted tail: `::2:3` is `::0.2.0.3`, `::ffff:0:0`
//   `::ffff:0.0.0.0`.
// A leaf: pure functions over bytes and strings, importing only the model's types.

import type { AllowedIP, SockAddr } from './index.js';

export const IN4_LEN = 4;
export const IN6_LEN = 16;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * inet_pton(AF_INET): exactly four dotted decimal octets, each 0-255, no leading zeros,
 * nothing else. Returns undefined when glibc would return 0.
 */
export function inetPton4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(IN4_LEN);
  let octets = 0;
  let sawDigit = false;
  let cur = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      if (sawDigit && out[cur] === 0) return undefined;
      const next = out[cur]! * 10 + (c - DIGIT_0);
      if (next > 255) return undefined;
      out[cur] = next;
      if (!sawDigit) {
        if (++octets > 4) return undefined;
        sawDigit = true;
      }
    } else if (c === 0x2e /* . */ && sawDigit) {
      if (octets === 4) return undefined;
      cur++;
      sawDigit = false;
    } else {
      return undefined;
    }
  }
  return octets < 4 ? undefined : out;
}

function hexValue(c: number): number {
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * inet_pton(AF_INET6): hex groups of at most four digits, one `::`, an optional trailing
 * dotted quad. Returns undefined when glibc would return 0.
 */
export function inetPton6(text: string): Uint8Array | undefined {
  const tmp = new Uint8Array(IN6_LEN);
  let tp = 0;
  let colonp = -1;
  let src = 0;
  const end = text.length;
  if (src === end) return undefined;
  // A leading `::` needs both colons.
  if (text[src] === ':') {
    src++;
    if (src === end || text[src] !== ':') return undefined;
  }
  let curtok = src;
  let xdigits = 0;
  let val = 0;
  while (src < end) {
    const ch = text.charCodeAt(src++);
    const digit = hexValue(ch);
    if (digit >= 0) {
      if (xdigits === 4) return undefined;
      val = (val << 4) | digit;
      xdigits++;
      continue;
    }
    if (ch === 0x3a /* : */) {
      curtok = src;
      if (xdigits === 0) {
        if (colonp >= 0) return undefined;
        colonp = tp;
        continue;
      }
      if (src === end) return undefined;
      if (tp + 2 > IN6_LEN) return undefined;
      tmp[tp++] = (val >> 8) & 0xff;
      tmp[tp++] = val & 0xff;
      xdigits = 0;
      val = 0;
      continue;
    }
    if (ch === 0x2e /* . */ && tp + IN4_LEN <= IN6_LEN) {
      const v4 = inetPton4(text.slice(curtok, end));
      if (v4) {
        tmp.set(v4, tp);
        tp += IN4_LEN;
        xdigits = 0;
        break;
      }
    }
    return undefined;
  }
  if (xdigits > 0) {
    if (tp + 2 > IN6_LEN) return undefined;
    tmp[tp++] = (val >> 8) & 0xff;
    tmp[tp++] = val & 0xff;
  }
  if (colonp >= 0) {
    // `::` must stand for at least one zero group.
    if (tp === IN6_LEN) return undefined;
    const n = tp - colonp;
    tmp.copyWithin(IN6_LEN - n, colonp, tp);
    tmp.fill(0, colonp, IN6_LEN - n);
    tp = IN6_LEN;
  }
  return tp === IN6_LEN ? tmp : undefined;
}

const ATON_PART = /^(?:0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$/;

/**
 * glibc inet_aton_exact (what getaddrinfo uses for a numeric IPv4 host): one to four parts,
 * each decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes.
 */
export function inetAton(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length > 4) return undefined;
  const values: bigint[] = [];
  for (const p of parts) {
    if (!ATON_PART.test(p)) return undefined;
    if (p[0] !== '0' || p.length === 1) values.push(BigInt(p));
    else if (p[1] === 'x' || p[1] === 'X') values.push(p.length === 2 ? 0n : BigInt(`0x${p.slice(2)}`));
    else values.push(BigInt(`0o${p.slice(1)}`));
  }
  const leading = values.slice(0, -1);
  if (leading.some((v) => v > 255n)) return undefined;
  const lastBytes = 4 - leading.length;
  const last = values[values.length - 1]!;
  if (last >= 1n << BigInt(8 * lastBytes)) return undefined;
  const out = new Uint8Array(IN4_LEN);
  leading.forEach((v, i) => {
    out[i] = Number(v);
  });
  for (let i = 0; i < lastBytes; i++) out[3 - i] = Number((last >> BigInt(8 * i)) & 0xffn);
  return out;
}

export function inetNtop4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * inet_ntop(AF_INET6): the longest run of two or more zero groups becomes `::` (the first
 * on ties), lowercase hex without leading zeros, and an address whose first 96 bits are zero
 * (a run of exactly six groups) or that is IPv4-mapped ends in a dotted quad.
 */
export function inetNtop6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += inetNtop4(bytes.subarray(12, 16));
      return out;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Address bytes to text by family (4 or 16 bytes). */
export function inetNtop(bytes: Uint8Array): string {
  return bytes.length === IN4_LEN ? inetNtop4(bytes) : inetNtop6(bytes);
}

/** fe80::/10 (IN6_IS_ADDR_LINKLOCAL). */
export function isLinkLocal6(b: Uint8Array): boolean {
  return b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
}

/** ffx2::/16 (IN6_IS_ADDR_MC_LINKLOCAL). */
export function isMcLinkLocal6(b: Uint8Array): boolean {
  return b[0] === 0xff && (b[1]! & 0x0f) === 0x02;
}

/** ffx1::/16 (IN6_IS_ADDR_MC_NODELOCAL). */
export function isMcNodeLocal6(b: Uint8Array): boolean {
  return b[0] === 0xff && (b[1]! & 0x0f) === 0x01;
}

/** `ip/cidr` with the address in inet_ntop form (wg's allowed-ips text). */
export function formatAllowedIP(ip: AllowedIP): string {
  return `${inetNtop(ip.address)}/${ip.cidr}`;
}

/**
 * The numeric host text of a socket address as getnameinfo(NI_NUMERICHOST) gives it: the
 * address re-printed in glibc form (whatever numeric text the backend used; text that is not an
 * address is kept as it is) and `%scope` when set.
 */
export function formatHost(addr: SockAddr): string {
  const bytes = addr.family === 4 ? inetAton(addr.address) : inetPton6(addr.address);
  const host = bytes ? inetNtop(bytes) : addr.address;
  return addr.family === 6 && addr.scope !== undefined && addr.scope !== '' ? `${host}%${addr.scope}` : host;
}

/** `a.b.c.d:port` or `[v6%scope]:port`: wg's endpoint text in show, showconf and UAPI. */
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

/**
 * Whether `host` is a DNS name a resolver can be handed as is: labels of letters, digits, `-`
 * and `_`, 1..63 bytes each, at most 253 bytes in all (RFC 1035 section 2.3.4), one trailing
 * dot allowed, and not a numeric address in any form inet_aton takes (getaddrinfo reads those
 * as addresses, not names).
 */
export function isDnsName(host: string): boolean {
  const bare = host.endsWith('.') ? host.slice(0, -1) : host;
  if (bare.length === 0 || bare.length > 253) return false;
  for (const label of bare.split('.'))
    if (label.length === 0 || label.length > 63 || !/^[A-Za-z0-9_-]+$/.test(label)) return false;
  return inetAton(bare) === undefined;
}
