// wg's config file grammar (wireguard-tools src/config.c, config_read_line and process_line), plus
// wgm's one extension: every `Endpoint` line of a peer is kept, in order (wg keeps the last), and
// one line may list several, comma-separated.
//
// Per line: cut at the first `#`, delete every C whitespace character, skip if empty; headers
// and keys compare case-insensitively; `[Interface]` may repeat, `[Peer]` always starts a new
// peer; a value must not be empty. The first error stops everything. Messages are wg's, with
// the file and line in `where` and wg's second line in `trailer`, with one deliberate change:
// where wg would quote a private or preshared key, wgm prints `(hidden, N characters)`.
//
// parseConfig() is pure and synchronous: endpoints come back as specs. loadConfig() resolves
// them in file order and reports the error wg would report first: wg resolves while it parses,
// so a resolution failure on an earlier line beats a syntax error on a later one.

import { closeSync, openSync, readSync } from 'node:fs';
import { isWgError, WgError } from '../model/errors.js';
import { type Device, type Endpoint, newDevice, newPeer, type Peer } from '../model/index.js';
import { isDnsName } from '../model/inet.js';
import { errorCode, strerrorOf } from './errno-text.js';
import { type HostLookup, parseRetries, resolveEndpoint } from './resolve.js';
import { servicePort } from './services.js';
import {
  asciiEqualsIgnoreCase,
  hiddenValue,
  parseAllowedIPs,
  parseFwmark,
  parseKeepalive,
  parseKey,
  parsePort,
  splitEndpoint,
} from './values.js';

export const PARSE_ERROR_TRAILER = 'Configuration parsing error';
export const INVALID_CONFIG_TRAILER = 'Invalid configuration';

/** A warning tied to a line of the file. */
export interface ConfigNote {
  line: number;
  message: string;
}

export interface ParsedConfig {
  /** What the file says. Endpoints carry `spec` only; every peer has replaceAllowedIPs set. */
  device: Device;
  /** Non-fatal findings (nonzero host part), in file order. */
  warnings: ConfigNote[];
  /** Line of each `[Peer]` header, index-aligned with device.peers. */
  peerLines: number[];
}

type Step = { kind: 'warning'; note: ConfigNote } | { kind: 'endpoint'; line: number; endpoint: Endpoint };

interface Scan {
  parsed: ParsedConfig;
  /** Warnings and endpoints in the order wg meets them. */
  steps: Step[];
  error?: { err: WgError; atEndpoint: boolean };
}

const C_SPACE = /[ \t\n\v\f\r]/g;

/** The text wg sees of one line: up to a NUL byte or `#`, without any whitespace. */
export function cleanLine(raw: string): string {
  let end = raw.length;
  const nul = raw.indexOf('\0');
  if (nul >= 0) end = nul;
  const hash = raw.indexOf('#');
  if (hash >= 0 && hash < end) end = hash;
  return raw.slice(0, end).replace(C_SPACE, '');
}

function located(e: unknown, file: string, line: number): WgError {
  if (!isWgError(e)) throw e;
  return new WgError(e.code, e.message, {
    where: { file, line },
    trailer: [PARSE_ERROR_TRAILER],
    errno: e.errno,
    cause: e,
  });
}

function scanConfig(text: string, file: string): Scan {
  const device = newDevice();
  const parsed: ParsedConfig = { device, warnings: [], peerLines: [] };
  const steps: Step[] = [];
  let section: 'none' | 'interface' | 'peer' = 'none';
  let peer: Peer | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = cleanLine(lines[i]!);
    if (line === '') continue;
    if (asciiEqualsIgnoreCase(line, '[Interface]')) {
      section = 'interface';
      continue;
    }
    if (asciiEqualsIgnoreCase(line, '[Peer]')) {
      peer = newPeer({ replaceAllowedIPs: true });
      device.peers.push(peer);
      parsed.peerLines.push(lineNo);
      section = 'peer';
      continue;
    }
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq);
    const value = eq < 0 ? '' : line.slice(eq + 1);
    let atEndpoint = false;
    try {
      if (value === '') throw unrecognized(line);
      if (section === 'interface') {
        if (asciiEqualsIgnoreCase(key, 'ListenPort')) device.listenPort = parsePort(value);
        else if (asciiEqualsIgnoreCase(key, 'FwMark')) device.fwmark = parseFwmark(value);
        else if (asciiEqualsIgnoreCase(key, 'PrivateKey')) device.privateKey = parseKey(value, true);
        else throw unrecognized(line);
      } else if (section === 'peer' && peer) {
        if (asciiEqualsIgnoreCase(key, 'Endpoint')) {
          atEndpoint = true;
          for (const spec of endpointList(value)) {
            splitEndpoint(spec);
            const endpoint: Endpoint = { spec };
            peer.endpoints.push(endpoint);
            steps.push({ kind: 'endpoint', line: lineNo, endpoint });
          }
        } else if (asciiEqualsIgnoreCase(key, 'PublicKey')) peer.publicKey = parseKey(value);
        else if (asciiEqualsIgnoreCase(key, 'AllowedIPs')) {
          const { ips } = parseAllowedIPs(value, (message) => {
            const note = { line: lineNo, message };
            parsed.warnings.push(note);
            steps.push({ kind: 'warning', note });
          });
          peer.allowedIPs.push(...ips);
        } else if (asciiEqualsIgnoreCase(key, 'PersistentKeepalive'))
          peer.persistentKeepalive = parseKeepalive(value);
        else if (asciiEqualsIgnoreCase(key, 'PresharedKey')) peer.presharedKey = parseKey(value, true);
        else throw unrecognized(line);
      } else {
        throw unrecognized(line);
      }
    } catch (e) {
      return { parsed, steps, error: { err: located(e, file, lineNo), atEndpoint } };
    }
  }
  const missing = device.peers.findIndex((p) => p.publicKey === undefined);
  if (missing >= 0) {
    const err = new WgError('config', 'A peer is missing a public key', {
      where: { file, line: parsed.peerLines[missing]! },
      trailer: [INVALID_CONFIG_TRAILER],
    });
    return { parsed, steps, error: { err, atEndpoint: false } };
  }
  return { parsed, steps };
}

const SECRET_KEYS = ['PrivateKey', 'PresharedKey'];

/** wg quotes the whole cleaned line; wgm hides the value of a misplaced secret key line. */
function unrecognized(line: string): WgError {
  const eq = line.indexOf('=');
  const key = line.slice(0, eq);
  const value = line.slice(eq + 1);
  const secret = eq >= 0 && value !== '' && SECRET_KEYS.some((k) => asciiEqualsIgnoreCase(k, key));
  return new WgError('config', `Line unrecognized: \`${secret ? `${key}=${hiddenValue(value)}` : line}'`);
}

/** wgm's extension: `Endpoint = a:1, b:2` is two endpoints (no valid wg endpoint holds a comma). */
function endpointList(value: string): string[] {
  if (!value.includes(',')) return [value];
  const specs = value.split(',');
  if (specs.some((s) => s === ''))
    throw new WgError('config', `Unable to parse empty endpoint in list: \`${value}'`);
  return specs;
}

/**
 * Parses a config file's text without touching the network. Throws the first error as a
 * WgError with `where: { file, line }`.
 */
export function parseConfig(text: string, opts: { file: string }): ParsedConfig {
  const scan = scanConfig(text, opts.file);
  if (scan.error) throw scan.error.err;
  return scan.parsed;
}

export interface LoadOptions {
  /** The name used in error locations. */
  file: string;
  /** Where WG_ENDPOINT_RESOLUTION_RETRIES is read from. */
  env?: NodeJS.ProcessEnv;
  sleep?: (ms: number) => Promise<void>;
  /** Host lookup for the resolver (tests); the system resolver by default. */
  lookup?: HostLookup;
  /**
   * Warnings and resolver retry announcements, in the order wg prints them, as one line each
   * (no newline) prefixed with `file:line: `; `note` has the bare text and the line.
   */
  onWarning?: (text: string, note: ConfigNote) => void;
  /**
   * The backend resolves names itself (wgm-engine's `endpoint_names`): an endpoint whose host
   * is a DNS name and whose port is known gets `name` instead of being resolved here. Numeric
   * endpoints, and anything that is not plainly a name, are resolved as wg does.
   */
  deferNames?: boolean;
}

/** What the backend is to resolve, when `spec` is a name with a known port. */
function deferredName(spec: string): { host: string; port: number } | undefined {
  let parts: { host: string; port: string };
  try {
    parts = splitEndpoint(spec);
  } catch {
    return undefined; // a syntax error: resolveEndpoint reports it as wg does
  }
  if (!isDnsName(parts.host)) return undefined;
  const port = servicePort(parts.port);
  return port !== undefined && port > 0 ? { host: parts.host, port } : undefined;
}

/**
 * Parses and resolves: every endpoint spec in file order, with wg's retry rules. The result's
 * endpoints carry both `spec` and `addr`. Throws the error wg would print first.
 */
export async function loadParsedConfig(text: string, opts: LoadOptions): Promise<ParsedConfig> {
  const { file } = opts;
  const env = opts.env ?? process.env;
  const scan = scanConfig(text, file);
  const emit = (note: ConfigNote) => opts.onWarning?.(`${file}:${note.line}: ${note.message}`, note);
  for (const step of scan.steps) {
    if (step.kind === 'warning') {
      emit(step.note);
      continue;
    }
    const line = step.line;
    const resolveOpts = {
      env,
      log: (text: string) => emit({ line, message: text.replace(/\n$/, '') }),
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
      ...(opts.lookup ? { lookup: opts.lookup } : {}),
    };
    const name = opts.deferNames ? deferredName(step.endpoint.spec!) : undefined;
    if (name) {
      step.endpoint.name = name;
      continue;
    }
    try {
      step.endpoint.addr = await resolveEndpoint(step.endpoint.spec!, resolveOpts);
    } catch (e) {
      if (isWgError(e) && e.code === 'usage') throw e;
      throw located(e, file, line);
    }
  }
  if (scan.error) {
    // wg reads WG_ENDPOINT_RESOLUTION_RETRIES before it looks at an endpoint's syntax.
    if (scan.error.atEndpoint) parseRetries(env);
    throw scan.error.err;
  }
  return scan.parsed;
}

/** loadParsedConfig's device alone. */
export async function loadConfig(text: string, opts: LoadOptions): Promise<Device> {
  return (await loadParsedConfig(text, opts)).device;
}

const READ_CHUNK = 65536;

/**
 * A config file's text as wg reads it: `fopen: <strerror>` if it cannot be opened; a read
 * error (a directory, say) ends the file where it happens, so a directory is an empty config.
 */
export function readConfigText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new WgError('io', `fopen: ${strerrorOf(errorCode(e))}`, { cause: e });
  }
  const chunks: Buffer[] = [];
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
  } catch {
    // getline() returns -1 on a read error, which ends wg's loop like end of file.
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface LoadedConfigFile extends ParsedConfig {
  /** The file's text, for callers that report by line. */
  text: string;
}

/** readConfigText + loadParsedConfig, with the path as the location's file name. */
export async function loadConfigFile(
  path: string,
  opts: Omit<LoadOptions, 'file'> = {},
): Promise<LoadedConfigFile> {
  const text = readConfigText(path);
  const parsed = await loadParsedConfig(text, { ...opts, file: path });
  return { ...parsed, text };
}
