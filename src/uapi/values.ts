// Value parsers for UAPI lines. Get replies are read with wg's rules (what the C tool accepts
// from a server), set requests with wireguard-go's (what a server accepts from a client), so that
// wgm is exactly as lenient as each side of the stock pair. Every failure is a WgError with errno.

import { keyFromHex } from '../crypto/keys.js';
import type { AllowedIP, Key, SockAddr } from '../model/index.js';
import { inetAton, inetNtop4, inetNtop6, inetPton4, inetPton6, isDnsName } from '../model/inet.js';
import { EINVAL, EPROTO, uapiError } from './errno.js';

const U64_MAX = (1n << 64n) - 1n;
const DIGITS = /^[0-9]+$/;

/** 64 hex digits, either case (wg's key_from_hex and wireguard-go's hex decoding). */
export function hexKey(value: string, errno: number): Key {
  const key = keyFromHex(value);
  if (!key) throw uapiError(errno);
  return key;
}

/**
 * wg's NUM(max): the value starts with a digit, is all decimal digits, and (after strtoull's
 * saturation at 2^64-1) is at most `max`.
 */
export function wgNumber(value: string, max: bigint): bigint {
  if (!DIGITS.test(value)) throw uapiError(EPROTO);
  let n = value.length <= 15 ? BigInt(Number(value)) : BigInt(value);
  if (n > U64_MAX) n = U64_MAX;
  if (n > max) throw uapiError(EPROTO);
  return n;
}

/** Go's strconv.ParseUint(value, 10, bits), as wireguard-go parses numbers in a set. */
export function goUint(value: string, bits: number): number {
  if (!/^[0-9]+$/.test(value)) throw uapiError(EINVAL);
  const n = BigInt(value);
  if (n >= 1n << BigInt(bits)) throw uapiError(EINVAL);
  return Number(n);
}

/** glibc's numeric service: optional blanks and `+`, digits, taken modulo 2^16 after strtoul saturation. */
function numericService(text: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*\+?([0-9]+)$/.exec(text);
  if (!m) return undefined;
  let n = BigInt(m[1]!);
  if (n > U64_MAX) n = U64_MAX;
  return Number(n & 0xffffn);
}

/** A numeric host as getaddrinfo takes it: inet_aton forms for IPv4, inet_pton plus `%scope` for IPv6. */
function numericHost(host: string): Pick<SockAddr, 'family' | 'address' | 'scope'> | undefined {
  const v4 = inetAton(host);
  if (v4) return { family: 4, address: inetNtop4(v4) };
  const pct = host.indexOf('%');
  const v6 = inetPton6(pct < 0 ? host : host.slice(0, pct));
  if (!v6) return undefined;
  const scope = pct < 0 ? undefined : host.slice(pct + 1);
  if (scope === '') return undefined;
  return scope === undefined
    ? { family: 6, address: inetNtop6(v6) }
    : { family: 6, address: inetNtop6(v6), scope };
}

/**
 * An `endpoint=` value in a get reply, split as wg splits it (`[host]:port`, else at the last
 * colon) and resolved numerically. wg would also look up a host *name* here (and crash when that
 * fails); wgm accepts numeric hosts and ports only and calls anything else a protocol error.
 */
export function replyEndpoint(value: string): SockAddr {
  let host: string;
  let port: string;
  if (value.length === 0) throw uapiError(EPROTO);
  if (value[0] === '[') {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':' || close + 2 >= value.length) throw uapiError(EPROTO);
    host = value.slice(1, close);
    port = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0 || colon + 1 >= value.length) throw uapiError(EPROTO);
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
  }
  const h = numericHost(host);
  const p = numericService(port);
  if (!h || p === undefined) throw uapiError(EPROTO);
  return { ...h, port: p };
}

/** An `allowed_ip=` value in a get reply, with wg's rules (mask mandatory; cidr stored in a byte). */
export function replyAllowedIP(value: string): AllowedIP {
  const slash = value.indexOf('/');
  if (slash < 0) throw uapiError(EPROTO);
  const ip = value.slice(0, slash);
  const mask = value.slice(slash + 1);
  if (!DIGITS.test(mask)) throw uapiError(EPROTO);
  // wg keeps the prefix length in a uint8_t: `/256` is read as 0, exactly as the C tool does
  // (strtoul saturates first, so an absurdly long number is 255).
  let cidr: number;
  if (mask.length <= 15) cidr = Number(mask) % 256;
  else {
    let m = BigInt(mask);
    if (m > U64_MAX) m = U64_MAX;
    cidr = Number(m & 0xffn);
  }
  const bytes = ip.includes(':') ? inetPton6(ip) : inetPton4(ip);
  if (!bytes) throw uapiError(EPROTO);
  const family = bytes.length === 4 ? 4 : 6;
  if (cidr > (family === 4 ? 32 : 128)) throw uapiError(EPROTO);
  return { family, address: bytes, cidr };
}

/** An `endpoint=` value in a set request, as wireguard-go takes it: an IP literal and a port. */
export function requestEndpoint(value: string): SockAddr {
  let host: string;
  let port: string;
  let family: 4 | 6;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') throw uapiError(EINVAL);
    host = value.slice(1, close);
    port = value.slice(close + 2);
    family = 6;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) throw uapiError(EINVAL);
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
    family = 4;
  }
  const p = goUint(port, 16);
  if (family === 4) {
    const v4 = inetPton4(host);
    if (!v4) throw uapiError(EINVAL);
    return { family: 4, address: inetNtop4(v4), port: p };
  }
  // A zone is accepted and dropped, as wireguard-go does.
  const pct = host.indexOf('%');
  if (pct === 0 || pct === host.length - 1) throw uapiError(EINVAL);
  const v6 = inetPton6(pct < 0 ? host : host.slice(0, pct));
  if (!v6) throw uapiError(EINVAL);
  return { family: 6, address: inetNtop6(v6), port: p };
}

/**
 * A `wgm_endpoint_name=` value: `host:port`, the host a DNS name (model/inet.ts, isDnsName;
 * never an IP literal: those go as `wgm_endpoint=`), the port a decimal number 1..65535.
 * EINVAL otherwise.
 */
export function requestEndpointName(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  if (colon <= 0) throw uapiError(EINVAL);
  const host = value.slice(0, colon);
  const port = value.slice(colon + 1);
  if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535) throw uapiError(EINVAL);
  if (!isDnsName(host)) throw uapiError(EINVAL);
  return { host, port: Number(port) };
}

/** An `allowed_ip=` value in a set request: `[-]prefix/len`, mask mandatory, as newer wireguard-go takes it. */
export function requestAllowedIP(value: string): AllowedIP {
  const remove = value.startsWith('-');
  const text = remove ? value.slice(1) : value;
  const slash = text.indexOf('/');
  if (slash < 0) throw uapiError(EINVAL);
  const ip = text.slice(0, slash);
  const mask = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(mask)) throw uapiError(EINVAL);
  const bytes = ip.includes(':') ? inetPton6(ip) : inetPton4(ip);
  if (!bytes) throw uapiError(EINVAL);
  const family = bytes.length === 4 ? 4 : 6;
  const cidr = Number(mask);
  if (cidr > (family === 4 ? 32 : 128)) throw uapiError(EINVAL);
  return remove ? { family, address: bytes, cidr, remove } : { family, address: bytes, cidr };
}
