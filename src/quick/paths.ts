// From wg-quick's argument to a config file and an interface name, then the file's bytes,
// exactly as the 2021 wg-quick does it (wireguard-tools src/wg-quick/linux.bash,
// `parse_options`). Shared by up, down, reload, save and strip.
//
//   [[ $1 =~ ^[a-zA-Z0-9_=+.-]{1,15}$ ]] && CONFIG_FILE=/etc/wireguard/$1.conf
//   [[ -e $CONFIG_FILE ]] || die "\`$CONFIG_FILE' does not exist"
//   [[ $CONFIG_FILE =~ (^|/)([a-zA-Z0-9_=+.-]{1,15})\.conf$ ]] || die "The config file ..."
//   CONFIG_FILE=$(readlink -f "$CONFIG_FILE")
//   file mode & directory mode & 0007 → "Warning: `...' is world accessible"
//   INTERFACE=${BASH_REMATCH[2]}          (the name from the path as given, not the target)

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { WgError } from '../model/errors.js';
import { strerror } from '../sys/libc.js';

/** Where wg-quick looks for `INTERFACE.conf` when given a bare name. */
export const QUICK_CONFIG_DIR = '/etc/wireguard';
/** An argument that is an interface name rather than a path (note: `wg0.conf` is one). */
const INTERFACE_ARG_RE = /^[a-zA-Z0-9_=+.-]{1,15}$/;
/** A config path: a valid interface name followed by `.conf`, at the start or after a `/`. */
const CONFIG_PATH_RE = /(^|\/)([a-zA-Z0-9_=+.-]{1,15})\.conf$/;
/** The "other" permission bits. */
const S_IRWXO = 0o007;

export interface QuickTarget {
  /** The path wg-quick checked, before canonicalisation (`/etc/wireguard/wg0.conf`, `./x.conf`). */
  given: string;
  /** `readlink -f` of it: absolute, no symlinks. Messages and reads use this one. */
  path: string;
  /** Capture 2 of the config-path pattern on `given`. */
  iface: string;
  /** `Warning: `PATH' is world accessible`, when the file and its directory share an "other" bit. */
  warning: string | undefined;
}

export function resolveQuickTarget(arg: string): QuickTarget {
  const given = INTERFACE_ARG_RE.test(arg) ? `${QUICK_CONFIG_DIR}/${arg}.conf` : arg;
  if (!exists(given)) throw new WgError('quick', `\`${given}' does not exist`);
  const m = CONFIG_PATH_RE.exec(given);
  if (!m) throw new WgError('quick', 'The config file must be a valid interface name, followed by .conf');
  const path = canonical(given);
  return { given, path, iface: m[2]!, warning: worldAccessible(path) };
}

/**
 * `[[ -e PATH ]]`: stat succeeds. One deliberate difference: wgm does not re-run itself as
 * root, so a caller who may not search the directory (EACCES) is told so, not told that the
 * file does not exist.
 */
function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EACCES') throw sysError(path, err);
    return false;
  }
}

function canonical(path: string): string {
  try {
    return realpathSync.native(path);
  } catch (e) {
    throw sysError(path, e as NodeJS.ErrnoException);
  }
}

/**
 * wg-quick: `(( (mode(file) & mode(${file%/*}) & 0007) == 0 )) || warn`. For a file directly
 * in `/`, `${file%/*}` is empty and wg-quick's `stat ''` fails (it then prints stat's and
 * bash's errors and always warns); wgm uses `/` there, the directory the file is really in.
 */
function worldAccessible(path: string): string | undefined {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const bits = statSync(path).mode & statSync(dir).mode & S_IRWXO;
  return bits === 0 ? undefined : `Warning: \`${path}' is world accessible`;
}

export interface QuickFile {
  bytes: Buffer;
  /**
   * Set when reading failed after the file was opened (a directory named `x.conf`): wg-quick's
   * `read` then reports `read error: 0: ...` and carries on with no lines, exit status 0.
   */
  readError: string | undefined;
}

/** `done < "$CONFIG_FILE"`: an open failure is fatal, a read failure ends the input. */
export function readQuickFile(path: string): QuickFile {
  try {
    return { bytes: readFileSync(path), readError: undefined };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EISDIR')
      return { bytes: Buffer.alloc(0), readError: `read: read error: 0: ${errnoText(err)}` };
    throw sysError(path, err);
  }
}

/** bash's message for a failed redirection: `PATH: strerror`. */
function sysError(path: string, err: NodeJS.ErrnoException): WgError {
  const errno = err.errno === undefined ? undefined : Math.abs(err.errno);
  return new WgError('io', `${path}: ${errnoText(err)}`, { errno, cause: err });
}

/** glibc's text for the error (node's messages are libuv's, which differ for some codes). */
function errnoText(err: NodeJS.ErrnoException): string {
  return err.errno === undefined ? err.message : strerror(Math.abs(err.errno));
}
