// The value parsers shared by config files and `wgm set` (wireguard-tools src/config.c, the parse_*
// functions, and src/encoding.c for keys). Each throws WgError('config', <wg's exact message>)
// without a location: the caller knows the file and line (or the argument) and adds it.

import { closeSync, openSync, readSync } from 'node:fs';
import { keyFromBase64 } from '../crypto/keys.js';
import { WgError } from '../model/errors.js';
import { type AllowedIP, KEY_LEN, type Key } from '../model/index.js';
import { IN4_LEN, inetPton4, inetPton6 } from '../model/inet.js';
import { errorCode, strerrorOf } from './errno-text.js';
import { isCSpace, servicePort } from './services.js';

/** wg's WG_KEY_LEN_BASE64 without the terminating NUL. */
export const KEY_BASE64_CHARS = 44;
const FWMARK_MAX = 0xffffffffn;
const KEEPALIVE_MAX = 65535;
const CIDR_MAX_V4 = 32;
const CIDR_MAX_V6 = 128;

function fail(message: string): never {
  throw new WgError('config', message);
}

/** strcasecmp() in the "C" locale: only A-Z and a-z fold. */
export function asciiEqualsIgnoreCase(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

const ALL_DIGITS = /^[0-9]+$/;
const ALL_HEX = /^[0-9a-fA-F]+$/;

/**
 * What stands in an error message for a value that may be a secret. wg echoes the value; wgm
 * keeps wg's message but never prints a private or preshared key, nor a near miss of one.
 */
export function hiddenValue(value: string): string {
  return `(hidden, ${value.length} characters)`;
}

/**
 * A base64 key as wg accepts it (canonical, 44 characters). `secret` (private and preshared
 * keys) hides the value in the error message; a public key is quoted as wg quotes it.
 */
export function parseKey(value: string, secret = false): Key {
  const key = keyFromBase64(value);
  if (!key) fail(`Key is not the correct length or format: \`${secret ? hiddenValue(value) : value}'`);
  return key;
}

/**
 * A listen port: getaddrinfo(NULL, value, AI_PASSIVE, SOCK_DGRAM) rules, see services.ts.
 * 0 means "choose at random".
 */
export function parsePort(value: string): number {
  if (value.length === 0) fail('Unable to parse empty port');
  const port = servicePort(value);
  if (port === undefined) fail(`Servname not supported for ai_socktype: \`${value}'`);
  return port;
}

/** `off` (any case) or a u32: decimal, or hex after a lowercase `0x`. 0 = off. */
export function parseFwmark(value: string): number {
  if (asciiEqualsIgnoreCase(value, 'off')) return 0;
  const bad = `Fwmark is neither 0/off nor 0-0xffffffff: \`${value}'`;
  if (!isDigit(value[0])) fail(bad);
  const hex = value.length > 2 && value[0] === '0' && value[1] === 'x';
  const digits = hex ? value.slice(2) : value;
  if (!(hex ? ALL_HEX : ALL_DIGITS).test(digits)) fail(bad);
  const n = BigInt(hex ? `0x${digits}` : digits);
  if (n > FWMARK_MAX) fail(bad);
  return Number(n);
}

/** `off` (any case) or 0-65535 in decimal. 0 = off. */
export function parseKeepalive(value: string): number {
  if (asciiEqualsIgnoreCase(value, 'off')) return 0;
  if (!isDigit(value[0]) || !ALL_DIGITS.test(value) || BigInt(value) > BigInt(KEEPALIVE_MAX)) {
    fail(`Persistent keepalive interval is neither 0/off nor 1-65535: \`${value}'`);
  }
  return Number(value);
}

function hasHostBits(address: Uint8Array, cidr: number): boolean {
  for (let bit = cidr; bit < address.length * 8; bit++) {
    if ((address[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}

/**
 * A comma-separated AllowedIPs list, whitespace already removed. An empty value is an empty
 * list (only `wg set` can pass one). Warnings are returned, and also handed to `onWarning` as
 * they occur, so that a caller can print them before an error later in the same list, as wg does.
 */
export function parseAllowedIPs(
  value: string,
  onWarning?: (warning: string) => void,
): { ips: AllowedIP[]; warnings: string[] } {
  const ips: AllowedIP[] = [];
  const warnings: string[] = [];
  if (value.length === 0) return { ips, warnings };
  for (const entry of value.split(',')) {
    const slash = entry.indexOf('/');
    const ip = slash < 0 ? entry : entry.slice(0, slash);
    const mask = slash < 0 ? undefined : entry.slice(slash + 1);
    const address = ip.includes(':') ? inetPton6(ip) : inetPton4(ip);
    if (!address) fail(`Unable to parse IP address: \`${ip}'`);
    const max = address.length === IN4_LEN ? CIDR_MAX_V4 : CIDR_MAX_V6;
    let cidr = max;
    if (mask !== undefined) {
      if (!isDigit(mask[0]) || !ALL_DIGITS.test(mask) || BigInt(mask) > BigInt(max)) {
        fail(`AllowedIP is not in the correct format: \`${entry}'`);
      }
      cidr = Number(mask);
    }
    if (hasHostBits(address, cidr)) {
      const warning = `Warning: AllowedIP has nonzero host part: ${ip}/${mask}`;
      warnings.push(warning);
      onWarning?.(warning);
    }
    ips.push({ family: address.length === IN4_LEN ? 4 : 6, address, cidr });
  }
  return { ips, warnings };
}

/**
 * `host:port` split as wg splits it: `[host]:port`, or at the last colon (so an unbracketed
 * IPv6 address works when its last group is the port). The host is not looked at.
 */
export function splitEndpoint(value: string): { host: string; port: string } {
  if (value.length === 0) fail('Unable to parse empty endpoint');
  if (value[0] === '[') {
    const close = value.indexOf(']');
    if (close < 0) fail(`Unable to find matching brace of endpoint: \`${value}'`);
    if (value[close + 1] !== ':' || close + 2 >= value.length)
      fail(`Unable to find port of endpoint: \`${value}'`);
    return { host: value.slice(1, close), port: value.slice(close + 2) };
  }
  const colon = value.lastIndexOf(':');
  if (colon < 0 || colon + 1 >= value.length) fail(`Unable to find port of endpoint: \`${value}'`);
  return { host: value.slice(0, colon), port: value.slice(colon + 1) };
}

const READ_CHUNK = 4096;

/** read() until `buf` is full or end of file; throws what read throws. */
function readFull(fd: number, buf: Uint8Array): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, null);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * A key file for `private-key`/`preshared-key` (wireguard-tools src/config.c, parse_keyfile): the
 * first 44 bytes are the key, then only whitespace may follow. An empty file (or /dev/null) is the
 * zero key, which removes the key. Reads no further than the first offending byte, so /dev/zero is
 * safe.
 */
export function readKeyFile(path: string): Key {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new WgError('io', `fopen: ${strerrorOf(errorCode(e))}`, { cause: e });
  }
  const head = new Uint8Array(KEY_BASE64_CHARS);
  try {
    let got: number;
    let failed = false;
    try {
      got = readFull(fd, head);
    } catch {
      got = 0;
      failed = true;
    }
    if (got < KEY_BASE64_CHARS) {
      if (got === 0 && !failed) return new Uint8Array(KEY_LEN);
      fail('Invalid length key in key file');
    }
    const rest = new Uint8Array(READ_CHUNK);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, rest, 0, rest.length, null);
      } catch (e) {
        throw new WgError('io', `getc: ${strerrorOf(errorCode(e))}`, { cause: e });
      }
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const c = String.fromCharCode(rest[i]!);
        if (!isCSpace(c)) fail(`Found trailing character in key file: \`${c}'`);
      }
    }
    // The key is a C string: a NUL byte ends it early (and then it has the wrong length).
    const nul = head.indexOf(0);
    const text = Buffer.from(head.buffer, 0, nul < 0 ? head.length : nul).toString('latin1');
    return parseKey(text, true);
  } finally {
    head.fill(0);
    closeSync(fd);
  }
}
