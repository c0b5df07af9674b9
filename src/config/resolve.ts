// Endpoint resolution with wg's rules (wireguard-tools src/config.c, parse_endpoint): `host:port`
// is split as wg splits it, the port goes through getaddrinfo's service rules (services.ts) and the
// host through the system resolver (node:dns lookup = glibc getaddrinfo, so inet_aton shorthand,
// /etc/hosts and DNS behave as they do for wg); the first result wins. IPv6 literals, with or
// without a scope (`%lo`, `%2`), are handled here, as glibc does, because Node answers those
// without asking it.
//
// Failures print gai_strerror's text. EAI_NONAME, EAI_FAIL and EAI_NODATA are permanent; any
// other failure (EAI_AGAIN, EAI_SERVICE for an unknown port name, EAI_SYSTEM, ...) is retried
// WG_ENDPOINT_RESOLUTION_RETRIES times (unset = 15, `infinity` = forever), sleeping 1 s, then
// min(20 s, 6/5 of the last sleep), each retry announced on one line.

import { lookup as dnsLookup } from 'node:dns';
import { readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { WgError } from '../model/errors.js';
import type { SockAddr } from '../model/index.js';
import { inetNtop6, inetPton6, isLinkLocal6, isMcLinkLocal6, isMcNodeLocal6 } from '../model/inet.js';
import { errorCode, strerrorOf } from './errno-text.js';
import { servicePort, strtoul10 } from './services.js';
import { splitEndpoint } from './values.js';

export const RETRIES_ENV = 'WG_ENDPOINT_RESOLUTION_RETRIES';
export const DEFAULT_RETRIES = 15;
/** First sleep between attempts, in microseconds (wg counts in usleep units). */
export const RETRY_FIRST_US = 1_000_000;
export const RETRY_MAX_US = 20_000_000;
const INT_MAX = 0x7fffffffn;
const IFNAMSIZ = 16;
const SYS_NET = '/sys/class/net';

/** glibc's gai_strerror() texts, by the EAI_* name Node reports. */
const GAI_TEXT: Record<string, string> = {
  EAI_BADFLAGS: 'Bad value for ai_flags',
  EAI_NONAME: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EAI_FAIL: 'Non-recoverable failure in name resolution',
  EAI_FAMILY: 'ai_family not supported',
  EAI_SOCKTYPE: 'ai_socktype not supported',
  EAI_SERVICE: 'Servname not supported for ai_socktype',
  EAI_MEMORY: 'Memory allocation failure',
  EAI_OVERFLOW: 'Argument buffer overflow',
  EAI_NODATA: 'No address associated with hostname',
  EAI_ADDRFAMILY: 'Address family for hostname not supported',
  EAI_CANCELED: 'Request canceled',
};

const PERMANENT = new Set(['EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);

/** What one getaddrinfo() call gave: an address, or the error's name (EAI_*, or an errno name for EAI_SYSTEM). */
export type LookupResult = { ok: true; family: 4 | 6; address: string } | { ok: false; error: string };

/** The host lookup, injectable for tests: `host` is never empty, `*` or an IPv6 literal. */
export type HostLookup = (host: string) => Promise<LookupResult>;

export interface ResolveOptions {
  /** Where WG_ENDPOINT_RESOLUTION_RETRIES is read from. */
  env?: NodeJS.ProcessEnv;
  /** Receives each retry announcement as a whole line, newline included. */
  log?: (line: string) => void;
  /** Sleeps between attempts; tests inject one that does not wait. */
  sleep?: (ms: number) => Promise<void>;
  lookup?: HostLookup;
}

/**
 * WG_ENDPOINT_RESOLUTION_RETRIES as wg reads it: -1 for `infinity`, 15 when unset, else
 * strtoul base 10 up to INT_MAX. Anything else makes wg exit at once, so the error carries no
 * location and no trailer (code 'usage').
 */
export function parseRetries(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[RETRIES_ENV];
  if (text === undefined) return DEFAULT_RETRIES;
  if (text === 'infinity') return -1;
  const { value, end } = strtoul10(text);
  // No digits at all leaves `end` at the start: fine only when the text is empty.
  const rest = end === 0 ? text : text.slice(end);
  if (rest.length !== 0 || value > INT_MAX) {
    throw new WgError('usage', `Unable to parse ${RETRIES_ENV}: \`${text}'`);
  }
  return Number(value);
}

/** printf("%.2f", us / 1e6): the exact binary value rounded half to even. */
export function formatSeconds(us: number): string {
  const x = us / 1e6;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = -1074;
  if (expBits !== 0) {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  let hundredths: bigint;
  if (exp >= 0) {
    hundredths = (mant << BigInt(exp)) * 100n;
  } else {
    const num = mant * 100n;
    const den = 1n << BigInt(-exp);
    hundredths = num / den;
    const twice = (num % den) * 2n;
    if (twice > den || (twice === den && hundredths % 2n === 1n)) hundredths += 1n;
  }
  return `${hundredths / 100n}.${(hundredths % 100n).toString().padStart(2, '0')}`;
}

/** if_nametoindex() through sysfs (config/ may not call libc); 0 when there is no such link. */
export function ifNameToIndex(name: string): number {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) return 0;
  if (Buffer.byteLength(name) >= IFNAMSIZ) return 0;
  try {
    const n = Number.parseInt(readFileSync(`${SYS_NET}/${name}/ifindex`, 'latin1').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** if_indextoname() through sysfs; undefined when no link has that index. */
export function ifIndexToName(index: number): string | undefined {
  let names: string[];
  try {
    names = readdirSync(SYS_NET);
  } catch {
    return undefined;
  }
  for (const name of names) if (ifNameToIndex(name) === index) return name;
  return undefined;
}

/** glibc's __inet6_scopeid_pton: an interface name (link-local scopes only) or a u32. */
function scopeIdOf(address: Uint8Array, scope: string): number | undefined {
  if (isLinkLocal6(address) || isMcNodeLocal6(address) || isMcLinkLocal6(address)) {
    const index = ifNameToIndex(scope);
    if (index !== 0) return index;
  }
  if (!/^[0-9]+$/.test(scope)) return undefined;
  const n = BigInt(scope);
  return n <= 0xffffffffn ? Number(n) : undefined;
}

/** How getnameinfo(NI_NUMERICHOST) writes a scope id: a name for link-local scopes, else the number. */
export function scopeText(address: Uint8Array, scopeId: number): string | undefined {
  if (scopeId === 0) return undefined;
  if (isLinkLocal6(address) || isMcLinkLocal6(address)) return ifIndexToName(scopeId) ?? String(scopeId);
  return String(scopeId);
}

/** The system resolver through node:dns, first result in the order getaddrinfo gave. */
export const systemLookup: HostLookup = (host) =>
  new Promise((resolve) => {
    dnsLookup(host, { family: 0, hints: 0, verbatim: true }, (err, address, family) => {
      if (err) {
        const errno = (err as NodeJS.ErrnoException).errno;
        const name = typeof errno === 'number' ? getSystemErrorName(errno) : (errorCode(err) ?? 'EAI_FAIL');
        resolve({ ok: false, error: name });
      } else if (family === 4 || family === 6) {
        resolve({ ok: true, family, address });
      } else {
        resolve({ ok: false, error: 'EAI_FAMILY' });
      }
    });
  });

type Attempt = { ok: true; addr: SockAddr } | { ok: false; error: string };

async function attempt(host: string, port: string, lookup: HostLookup): Promise<Attempt> {
  // getaddrinfo resolves the service before the host.
  const portNum = servicePort(port);
  if (portNum === undefined) return { ok: false, error: 'EAI_SERVICE' };
  // `*` means "no host", which without AI_PASSIVE is the loopback address, IPv6 first.
  if (host === '*') return { ok: true, addr: { family: 6, address: '::1', port: portNum } };
  if (host === '') return { ok: false, error: 'EAI_NONAME' };
  const pct = host.indexOf('%');
  const literal = inetPton6(pct < 0 ? host : host.slice(0, pct));
  if (literal) {
    const addr: SockAddr = { family: 6, address: inetNtop6(literal), port: portNum };
    if (pct >= 0) {
      const id = scopeIdOf(literal, host.slice(pct + 1));
      if (id === undefined) return { ok: false, error: 'EAI_NONAME' };
      const scope = scopeText(literal, id);
      if (scope !== undefined) addr.scope = scope;
    }
    return { ok: true, addr };
  }
  // Node would answer anything it takes for an IP literal itself; glibc would not (above).
  if (isIP(host) === 6) return { ok: false, error: 'EAI_NONAME' };
  const r = await lookup(host);
  if (!r.ok) return r;
  if (r.family === 6) {
    const bytes = inetPton6(r.address);
    return { ok: true, addr: { family: 6, address: bytes ? inetNtop6(bytes) : r.address, port: portNum } };
  }
  return { ok: true, addr: { family: 4, address: r.address, port: portNum } };
}

function errorText(error: string): string {
  return GAI_TEXT[error] ?? strerrorOf(error);
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Resolves one endpoint spec as `wg set ... endpoint` and `Endpoint =` do. Throws WgError:
 * 'usage' for a bad WG_ENDPOINT_RESOLUTION_RETRIES (checked first, as wg does), 'config' for
 * a malformed spec, 'resolve' for a resolution failure (after the retries).
 */
export async function resolveEndpoint(spec: string, opts: ResolveOptions = {}): Promise<SockAddr> {
  let retries = parseRetries(opts.env ?? process.env);
  const { host, port } = splitEndpoint(spec);
  const lookup = opts.lookup ?? systemLookup;
  const sleep = opts.sleep ?? realSleep;
  for (let timeout = RETRY_FIRST_US; ; timeout = Math.min(RETRY_MAX_US, Math.floor((timeout * 6) / 5))) {
    const r = await attempt(host, port, lookup);
    if (r.ok) return r.addr;
    const text = errorText(r.error);
    if (PERMANENT.has(r.error) || (retries >= 0 && retries-- === 0)) {
      throw new WgError('resolve', `${text}: \`${spec}'`);
    }
    opts.log?.(`${text}: \`${spec}'. Trying again in ${formatSeconds(timeout)} seconds...\n`);
    await sleep(timeout / 1000);
  }
}
