// The service half of glibc's getaddrinfo() for SOCK_DGRAM/IPPROTO_UDP, which is how wg turns a
// ListenPort value or the port of an Endpoint into a number (wireguard-tools src/config.c,
// parse_port and parse_endpoint):
//
//   num = (int) strtoul(service, &end, 10);   leading blanks and a sign are fine
//   if (*end != '\0' || num < 0)  ->  look the text up in /etc/services for "udp"
//   port = htons(num)                          so 70000 becomes 4464
//
// A failed lookup is EAI_SERVICE ("Servname not supported for ai_socktype"). The numbers
// behave like C's: `-4294967295` is port 1, `2147483648` is a negative int and so a name.

import { readFileSync } from 'node:fs';

export const SERVICES_FILE = '/etc/services';

const U64 = 1n << 64n;
const U64_MAX = U64 - 1n;
const PORT_MOD = 65536n;

/** C isspace() in the "C" locale. */
export function isCSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

export interface StrtoulResult {
  /** The value as an unsigned 64-bit number (negation and overflow applied as glibc does). */
  value: bigint;
  /** Index just past the parsed number; 0 when there were no digits at all. */
  end: number;
}

/** glibc strtoul(text, &end, 10) on a 64-bit system. */
export function strtoul10(text: string): StrtoulResult {
  let i = 0;
  while (isCSpace(text[i])) i++;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') {
    negative = text[i] === '-';
    i++;
  }
  const start = i;
  let value = 0n;
  let overflow = false;
  while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) {
    if (!overflow) {
      value = value * 10n + BigInt(text.charCodeAt(i) - 0x30);
      if (value > U64_MAX) overflow = true;
    }
    i++;
  }
  if (i === start) return { value: 0n, end: 0 };
  if (overflow) return { value: U64_MAX, end: i };
  return { value: negative && value !== 0n ? U64 - value : value, end: i };
}

interface ServiceEntry {
  names: string[];
  port: number;
  proto: string;
}

let cache: { file: string; entries: ServiceEntry[] } | undefined;

function loadServices(file: string): ServiceEntry[] {
  if (cache?.file === file) return cache.entries;
  let text = '';
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    // No services database: every name fails, as it does for glibc.
  }
  const entries: ServiceEntry[] = [];
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const fields = (hash < 0 ? raw : raw.slice(0, hash)).split(/[ \t\n\v\f\r]+/).filter((f) => f !== '');
    if (fields.length < 2) continue;
    const slash = fields[1]!.indexOf('/');
    if (slash <= 0) continue;
    const portText = fields[1]!.slice(0, slash);
    if (!/^[0-9]+$/.test(portText)) continue;
    entries.push({
      names: [fields[0]!, ...fields.slice(2)],
      port: Number(BigInt(portText) % PORT_MOD),
      proto: fields[1]!.slice(slash + 1),
    });
  }
  cache = { file, entries };
  return entries;
}

/** getservbyname(name, "udp") against the services file; undefined when there is no entry. */
export function udpServicePort(name: string, file: string = SERVICES_FILE): number | undefined {
  for (const e of loadServices(file)) if (e.proto === 'udp' && e.names.includes(name)) return e.port;
  return undefined;
}

/**
 * The port getaddrinfo() would put in its result for `service` (SOCK_DGRAM, UDP), or undefined
 * where it fails with EAI_SERVICE. `service` must not be empty (wg rejects that before).
 */
export function servicePort(service: string, file: string = SERVICES_FILE): number | undefined {
  const { value, end } = strtoul10(service);
  if (end === service.length && end !== 0) {
    // (int) truncation: the low 32 bits, read as signed.
    const asInt = BigInt.asIntN(32, value);
    if (asInt >= 0n) return Number(asInt % PORT_MOD);
  }
  return udpServicePort(service, file);
}
