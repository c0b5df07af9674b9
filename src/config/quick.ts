// wg-quick's reading of a config file, reproducing the bash of the installed 2021 wg-quick
// (wireguard-tools src/wg-quick/linux.bash, `parse_options`) step by step:
//
//   while read -r line || [[ -n $line ]]; do
//     stripped = line up to the first `#`
//     key      = stripped up to the first `=`, trimmed of [[:space:]]
//     value    = stripped after the first `=` (all of it if there is none), trimmed
//     ... with `shopt -s nocasematch` for every comparison
//
// The input is handled as bytes, as bash does under LC_ALL=C: every rule below looks only at
// ASCII, so a UTF-8 sequence can never be mistaken for a separator. What bash's `read -r`
// does to a line before wg-quick sees it is part of the contract, because the lines that
// wg-quick does not consume reach `wg` (and `strip`'s stdout) in that form:
//   - NUL bytes are dropped (silently);
//   - leading and trailing IFS whitespace (space, TAB) is removed; CR, VT and FF are kept;
//   - a last line without a newline is still read, unless it is empty after the above.
//
// One bash behaviour is deliberately not reproduced: Address and DNS values are expanded
// unquoted, so a word holding glob characters (`*`, `?`, `[`, extglob `@(`...) that matches
// files in wg-quick's working directory becomes those file names. wgm takes the words as
// written; no real config depends on the expansion.

import { WgError } from '../model/errors.js';

export interface QuickConfig {
  /** Every Address word, in file order (commas and blanks separate words). */
  addresses: string[];
  /** DNS words that are nameservers: digits and dots only, or containing a colon. */
  dns: string[];
  /** The other DNS words: search domains. */
  dnsSearch: string[];
  /** The last MTU value, unvalidated as in wg-quick; `''` (an empty value) means automatic. */
  mtu: string | undefined;
  /** The last Table value, raw: unset, `''` or `auto` mean the main table, `off` no routes. */
  table: string | undefined;
  /** Hook commands in file order; 2021 semantics: the value without its `#` comment. */
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  /** SaveConfig; the last valid value wins. */
  saveConfig: boolean;
  /**
   * wgm's own [Peer] keys (EndpointPolicy, Roaming: peer-options.ts), raw, with their line
   * numbers; like wg-quick's [Interface] keys they are not part of wgConfig.
   */
  peerOptions: RawPeerOption[];
  /**
   * What wg-quick hands to `wg setconf` and `strip` prints: every line it did not consume,
   * as `read -r` left it, each followed by a newline. Bytes, because comments may hold any.
   */
  wgConfig: Buffer;
  /**
   * wgConfig with every consumed line kept as an empty line, so that a line number in it is
   * the line number in the file (for error messages that point into the user's file).
   */
  wgConfigPadded: Buffer;
}

export interface RawPeerOption {
  /** 1-based line in the file. */
  line: number;
  key: 'EndpointPolicy' | 'Roaming';
  value: string;
}

/** wgm's [Peer] keys, by their lower-case spelling. */
const PEER_KEYS: Record<string, RawPeerOption['key']> = {
  endpointpolicy: 'EndpointPolicy',
  roaming: 'Roaming',
};

/** `[[:space:]]` in the C locale: what wg-quick trims from keys and values. */
const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);
/** The default IFS minus newline (the line delimiter): what `read` trims from a line. */
const IFS_BLANK = new Set([' ', '\t']);

/** Parses a wg-quick config. A string is taken as UTF-8 text, bytes as they are. */
export function parseQuickConfig(input: string | Uint8Array): QuickConfig {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  // latin1 maps byte n to char n and back: a "byte string" that keeps every byte as it is.
  const text = bytes.toString('latin1');
  const cfg: QuickConfig = {
    addresses: [],
    dns: [],
    dnsSearch: [],
    mtu: undefined,
    table: undefined,
    preUp: [],
    postUp: [],
    preDown: [],
    postDown: [],
    saveConfig: false,
    peerOptions: [],
    wgConfig: Buffer.alloc(0),
    wgConfigPadded: Buffer.alloc(0),
  };
  const kept: string[] = [];
  const padded: string[] = [];
  let inInterface = false;
  let inPeer = false;
  let lineNo = 0;
  for (const line of readLines(text)) {
    lineNo++;
    const stripped = upTo(line, '#');
    const key = trim(upTo(stripped, '='), SPACE);
    const eq = stripped.indexOf('=');
    const value = trim(eq < 0 ? stripped : stripped.slice(eq + 1), SPACE);
    if (key.startsWith('[')) {
      inInterface = false;
      inPeer = false;
    }
    if (lower(key) === '[interface]') inInterface = true;
    if (lower(key) === '[peer]') inPeer = true;
    if (inInterface && consume(cfg, lower(key), value)) {
      padded.push('\n');
      continue;
    }
    const peerKey = PEER_KEYS[lower(key)];
    if (inPeer && peerKey && eq >= 0) {
      cfg.peerOptions.push({ line: lineNo, key: peerKey, value: utf8(value) });
      padded.push('\n');
      continue;
    }
    kept.push(line, '\n');
    padded.push(line, '\n');
  }
  cfg.wgConfig = Buffer.from(kept.join(''), 'latin1');
  cfg.wgConfigPadded = Buffer.from(padded.join(''), 'latin1');
  return cfg;
}

/** Applies one [Interface] key that wg-quick handles; false if wg-quick leaves it to wg. */
function consume(cfg: QuickConfig, key: string, value: string): boolean {
  switch (key) {
    case 'address':
      cfg.addresses.push(...words(value).map(utf8));
      return true;
    case 'mtu':
      cfg.mtu = utf8(value);
      return true;
    case 'dns':
      for (const w of words(value)) {
        if (/^[0-9.]+$/.test(w) || w.includes(':')) cfg.dns.push(utf8(w));
        else cfg.dnsSearch.push(utf8(w));
      }
      return true;
    case 'table':
      cfg.table = utf8(value);
      return true;
    case 'preup':
      cfg.preUp.push(utf8(value));
      return true;
    case 'predown':
      cfg.preDown.push(utf8(value));
      return true;
    case 'postup':
      cfg.postUp.push(utf8(value));
      return true;
    case 'postdown':
      cfg.postDown.push(utf8(value));
      return true;
    case 'saveconfig':
      cfg.saveConfig = readBool(value);
      return true;
    default:
      return false;
  }
}

/** wg-quick's read_bool, under nocasematch. */
function readBool(value: string): boolean {
  const v = lower(value);
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new WgError('quick', `\`${utf8(value)}' is neither true nor false`);
}

/**
 * The lines `while read -r line || [[ -n $line ]]` yields: NULs dropped, blanks trimmed at
 * both ends, and a final unterminated line only when something is left of it.
 */
function* readLines(text: string): Generator<string> {
  const parts = text.split('\n');
  const last = parts.length - 1;
  for (let i = 0; i <= last; i++) {
    const line = trim(parts[i]!.replaceAll('\0', ''), IFS_BLANK);
    if (i === last && line === '') break;
    yield line;
  }
}

/**
 * `${value//,/ }` expanded unquoted: commas become blanks, then IFS (space, TAB, newline)
 * splits it into words; empty words vanish. (Pathname expansion: see the file comment.)
 */
function words(value: string): string[] {
  return value
    .replaceAll(',', ' ')
    .split(/[ \t\n]+/)
    .filter((w) => w !== '');
}

function upTo(s: string, ch: string): string {
  const i = s.indexOf(ch);
  return i < 0 ? s : s.slice(0, i);
}

function trim(s: string, set: Set<string>): string {
  let a = 0;
  let b = s.length;
  while (a < b && set.has(s[a]!)) a++;
  while (b > a && set.has(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** ASCII-only lower case: bash's nocasematch in the C locale folds nothing else. */
function lower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** A byte string back to text (UTF-8), for the fields other layers use as text. */
function utf8(byteString: string): string {
  return Buffer.from(byteString, 'latin1').toString('utf8');
}
