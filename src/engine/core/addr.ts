// Socket addresses as the core needs them: numeric IPv4/IPv6 text to bytes (for cookies, which
// are a MAC over the sender's address and port, and for the per-source rate limiter), and a
// canonical key so that two spellings of one address compare equal.

import type { SockAddr } from '../../model/index.js';

function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseV6(text: string): Uint8Array | undefined {
  const s = text.replace(/%.*$/, '');
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(Number.parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** The address bytes (4 or 16) of a numeric address, or undefined when it is not one. */
export function ipBytes(a: SockAddr): Uint8Array | undefined {
  return a.family === 4 ? parseV4(a.address) : parseV6(a.address);
}

/** A canonical key for maps: family, address bytes, port. */
export function addrKey(a: SockAddr): string {
  const b = ipBytes(a);
  const host = b ? Buffer.from(b).toString('hex') : a.address;
  return `${a.family}/${host}/${a.port}`;
}

/** What a cookie is a MAC of: the address bytes, then the port in network byte order. */
export function cookieSource(a: SockAddr): Uint8Array {
  const b = ipBytes(a) ?? new TextEncoder().encode(a.address);
  const out = new Uint8Array(b.length + 2);
  out.set(b, 0);
  out[b.length] = (a.port >> 8) & 0xff;
  out[b.length + 1] = a.port & 0xff;
  return out;
}

/** The rate limiter's bucket: the whole IPv4 address, or the /64 of an IPv6 one. */
export function rateLimitKey(a: SockAddr): string {
  const b = ipBytes(a);
  if (!b) return a.address;
  return Buffer.from(a.family === 4 ? b : b.subarray(0, 8)).toString('hex');
}

export function sameAddr(a: SockAddr | undefined, b: SockAddr | undefined): boolean {
  if (!a || !b) return a === b;
  return addrKey(a) === addrKey(b);
}

export function formatAddr(a: SockAddr): string {
  return a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
