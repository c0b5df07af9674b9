// `wgm save` and SaveConfig: the running state of an interface written back to its config
// file, gathered as wg-quick's `save_config` gathers it (wireguard-tools
// src/wg-quick/linux.bash), written into the existing text by config/edit.ts:
//
//   Address    every word after the state in `ip -all -brief address show dev IF` (so an
//              IPv6 link-local address the kernel added is written too, as wg-quick does)
//   DNS        the `nameserver X` lines of `resolvconf -l PREFIXIF`, or of
//              /etc/resolvconf/run/interface/PREFIXIF when that fails (Debian's resolvconf);
//              wgm then asks `resolvectl dns IF`, and keeps the file's DNS when nothing answers
//   MTU        the link's MTU (`ip link show dev IF`), only when the file sets a non-empty MTU
//   Table, SaveConfig, PreUp/PostUp/PreDown/PostDown   from the file, unchanged
//   the rest   from the backend, as `wg showconf IF` prints it, but with every endpoint of a
//              peer on a backend that holds several (wgm-engine)
//
// Differences from wg-quick, on purpose: the file keeps its comments, order and spelling
// (edit.ts); DNS search domains are kept (wg-quick's save drops them); the file is replaced
// atomically (a temporary file in the same directory, fsync, rename, fsync of the directory)
// and on any error it is left exactly as it was. If the edited text would not read back as
// the running state (a file the editor cannot follow), wg-quick's whole-file form is written
// instead, which always does.

import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { getDevice, listDevices } from '../backend/backend.js';
import { editConfig } from '../config/edit.js';
import { parseConfig } from '../config/parse.js';
import { parseQuickConfig, type QuickConfig } from '../config/quick.js';
import { resolveEndpoint } from '../config/resolve.js';
import {
  numericEndpoint,
  type SaveState,
  stateDifference,
  stateOfText,
  wgQuickText,
} from '../config/saved.js';
import { WgError } from '../model/errors.js';
import type { SockAddr } from '../model/index.js';

/** Prints one `[#] command` line of wg-quick's trace (stderr). */
export type Trace = (command: string) => void;

export interface SaveOptions {
  /** The interface name (from the config path, as wg-quick takes it). */
  iface: string;
  /** The canonical config path. */
  path: string;
  trace: Trace;
  /** Runs a command without tracing it; spawnSync by default (tests may replace it). */
  exec?: Exec;
}

/** Runs a command without tracing it. */
export type Exec = (cmd: string, args: string[]) => { status: number | null; stdout: string };

const RESOLVCONF_ORDER = '/etc/resolvconf/interface-order';
const RESOLVCONF_RUN = '/etc/resolvconf/run/interface';

function defaultExec(cmd: string, args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  return { status: r.error ? 127 : r.status, stdout: r.stdout ?? '' };
}

/** wg-quick's resolvconf_iface_prefix: `NAME.` from the first `NAME*` line of interface-order. */
export function resolvconfPrefix(orderText: string | undefined): string {
  if (orderText === undefined) return '';
  for (const line of orderText.split('\n')) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (m) return `${m[1]}.`;
  }
  return '';
}

/** The address words of `ip -all -brief address show dev IF`: everything after the state. */
export function briefAddresses(iface: string, output: string): string[] {
  const line = output.split('\n')[0] ?? '';
  if (!line.startsWith(iface)) return [];
  const m = /^ +[A-Z]+ +(.+)$/.exec(line.slice(iface.length));
  return m ? m[1]!.split(/\s+/).filter((w) => w !== '') : [];
}

/** `nameserver X` lines, with save_config's pattern for X. */
export function resolvconfNameservers(text: string): string[] {
  return text.split('\n').flatMap((l) => {
    const m = /^nameserver ([a-zA-Z0-9_=+:%.-]+)$/.exec(l.trim());
    return m ? [m[1]!] : [];
  });
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The nameservers of IF: wg-quick reads `resolvconf -l NAME`, else resolvconf's record file.
 * wgm also asks systemd-resolved (`resolvectl dns IF`) when neither answers, and when nothing
 * answers at all (no DNS manager on this host) it returns undefined: the file's DNS is then kept,
 * where wg-quick would write none.
 */
function runningNameservers(exec: Exec, iface: string, name: string): string[] | undefined {
  const listed = exec('resolvconf', ['-l', name]);
  if (listed.status === 0) return resolvconfNameservers(listed.stdout);
  const record = readOptional(join(RESOLVCONF_RUN, name));
  if (record !== undefined) return resolvconfNameservers(record);
  const resolved = exec('resolvectl', ['dns', iface]);
  if (resolved.status === 0) return resolvectlNameservers(resolved.stdout);
  return undefined;
}

/** `Link 5 (wg0): 10.0.9.1 fd00::53`: the words after the colon. */
export function resolvectlNameservers(text: string): string[] {
  const line = text.split('\n')[0] ?? '';
  const colon = line.indexOf('):');
  return colon < 0
    ? []
    : line
        .slice(colon + 2)
        .split(/\s+/)
        .filter((w) => w !== '');
}

/** The running state of IF, gathered as save_config does; `cfg` is the file as wg-quick reads it. */
export async function gatherState(opts: SaveOptions, cfg: QuickConfig): Promise<SaveState> {
  const exec = opts.exec ?? defaultExec;
  const { iface } = opts;
  const addresses = briefAddresses(
    iface,
    exec('ip', ['-all', '-brief', 'address', 'show', 'dev', iface]).stdout,
  );
  const name =
    resolvconfPrefix(existsSync(RESOLVCONF_ORDER) ? readOptional(RESOLVCONF_ORDER) : undefined) + iface;
  const state: SaveState = {
    addresses,
    dns: runningNameservers(exec, iface, name) ?? cfg.dns,
    saveConfig: cfg.saveConfig,
    preUp: cfg.preUp,
    postUp: cfg.postUp,
    preDown: cfg.preDown,
    postDown: cfg.postDown,
    device: { replacePeers: false, peers: [] },
  };
  if (cfg.mtu) {
    const m = /mtu ([0-9]+)/.exec(exec('ip', ['link', 'show', 'dev', iface]).stdout);
    if (m) state.mtu = m[1]!;
  }
  if (cfg.table !== undefined && cfg.table !== '') state.table = cfg.table;
  opts.trace(`wg showconf ${iface}`);
  try {
    state.device = await getDevice(iface);
  } catch (e) {
    if (e instanceof WgError)
      throw new WgError('backend', `Unable to access interface: ${e.message}`, { cause: e });
    throw e;
  }
  return state;
}

/** What each hostname Endpoint of the file resolves to now (one try each; failures left out). */
async function resolveSpecs(wgText: string): Promise<Map<string, SockAddr>> {
  const out = new Map<string, SockAddr>();
  let specs: string[];
  try {
    specs = parseConfig(wgText, { file: 'config' }).device.peers.flatMap((p) =>
      p.endpoints.map((e) => e.spec!),
    );
  } catch {
    return out;
  }
  for (const spec of specs) {
    if (out.has(spec) || numericEndpoint(spec)) continue;
    try {
      out.set(spec, await resolveEndpoint(spec, { env: { WG_ENDPOINT_RESOLUTION_RETRIES: '0' } }));
    } catch {
      // An unresolvable name cannot be shown to hold the running address: the line is rewritten.
    }
  }
  return out;
}

/** The new text of the config file for this running state. */
export async function savedText(text: string, state: SaveState): Promise<string> {
  let quickText: string;
  try {
    quickText = parseQuickConfig(text).wgConfig.toString('utf8');
  } catch {
    return wgQuickText(state);
  }
  const resolved = await resolveSpecs(quickText);
  try {
    const edited = editConfig(text, state, { resolved });
    if (stateDifference(stateOfText(edited, resolved), state) === undefined) return edited;
  } catch {
    // A file the editor cannot read: fall through to the whole-file form.
  }
  return wgQuickText(state);
}

/**
 * Replaces `path` with `bytes`, mode 0600: a temporary file in the same directory, written and
 * fsynced, then renamed over the original, then the directory fsynced. On any failure the
 * temporary file is removed and the original is untouched.
 */
export function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    fchmodSync(fd, 0o600);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(tmp);
    throw new WgError('io', `Could not write configuration file: ${(e as Error).message}`, { cause: e });
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    removeQuietly(tmp);
    throw new WgError('io', `Could not move configuration file: ${(e as Error).message}`, { cause: e });
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // The rename is done; a directory that cannot be synced (some filesystems) changes nothing.
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * wg-quick's cmd_save (and SaveConfig on `down`): checks that IF is a WireGuard interface,
 * gathers its state, writes the file. Throws WgError; the file is unchanged on any error.
 */
export async function saveConfig(opts: SaveOptions): Promise<void> {
  const names = await listDevices();
  if (!names.includes(opts.iface))
    throw new WgError('quick', `\`${opts.iface}' is not a WireGuard interface`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(opts.path);
  } catch (e) {
    throw new WgError('io', `${opts.path}: ${(e as Error).message}`, { cause: e });
  }
  // Text that is not UTF-8 (a Latin-1 comment) is edited as Latin-1, so every byte survives.
  const encoding: BufferEncoding = Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)
    ? 'utf8'
    : 'latin1';
  const text = bytes.toString(encoding);
  const state = await gatherState(opts, parseQuickConfig(text));
  writeAtomically(opts.path, Buffer.from(await savedText(text, state), encoding));
}
