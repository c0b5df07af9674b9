// What setconf, addconf and syncconf share (wireguard-tools src/setconf.c, `setconf_main`):
// read the file, build the request, refuse what the backend cannot hold, (syncconf) diff
// against the device, send. `wgm up` and `wgm reload` apply their config through applyConf.
//
// setconf and syncconf replace everything: the private key (zero when the file has none), the
// listen port (0 = random), the fwmark (0 = off) and the peer list. addconf sends only what the
// file mentions. Every [Peer] replaces that peer's allowed IPs. syncconf keeps 2021's semantics
// (the installed wg is the oracle): a peer present in both keeps what the file omits.

import { capabilities, getDevice, setDevice, wgName } from '../backend/backend.js';
import { loadParsedConfig, parseConfig, readConfigText } from '../config/parse.js';
import { RETRIES_ENV } from '../config/resolve.js';
import { splitEndpoint } from '../config/values.js';
import { isWgError, WgError } from '../model/errors.js';
import { type Device, KEY_LEN, newPeer, type Peer } from '../model/index.js';
import { isDnsName } from '../model/inet.js';
import { ensureBackendCanHold, type PeerSource } from './capability-check.js';
import type { Ctx } from './context.js';

export type ConfVerb = 'setconf' | 'addconf' | 'syncconf';

/**
 * Re-throws a backend failure with wg's prefix (`Unable to modify interface: <strerror>`, ...).
 * Anything that is not a WgError is a bug and goes up unchanged.
 */
export function wrapBackend(prefix: string, e: unknown): never {
  if (!isWgError(e) || e.code === 'capability') throw e;
  const opts =
    e.errno === undefined ? { where: e.where, cause: e } : { where: e.where, errno: e.errno, cause: e };
  // The location (file:line) of the original belongs to the config, never to a backend failure.
  const { file: _file, line: _line, ...where } = opts.where;
  throw new WgError('backend', `${prefix}: ${e.message}`, { ...opts, where });
}

/** setconf/syncconf: what the file does not say is reset (wg's config_read_init without append). */
export function replaceEverything(device: Device): void {
  device.privateKey ??= new Uint8Array(KEY_LEN);
  device.listenPort ??= 0;
  device.fwmark ??= 0;
  device.replacePeers = true;
}

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * syncconf's removals, as wg computes them: every device peer whose key is not in the file gets
 * a removal block; blocks come in descending byte order of the raw key. Both lists are sorted
 * together (file entries after device entries of the same key) and a device entry is spared only
 * when the very next entry is a file entry with the same key, so a key the device reports twice
 * gets one removal even if the file has it (wg's quirk, kept for byte-identical requests).
 */
export function syncRemovals(filePeers: readonly Peer[], devicePeers: readonly Peer[]): Peer[] {
  const zero = new Uint8Array(KEY_LEN);
  const all = [
    ...filePeers.map((p) => ({ key: p.publicKey ?? zero, fromFile: true })),
    ...devicePeers.map((p) => ({ key: p.publicKey ?? zero, fromFile: false })),
  ];
  all.sort((a, b) => compareKeys(a.key, b.key) || Number(a.fromFile) - Number(b.fromFile));
  const removals: Peer[] = [];
  for (let i = 0; i < all.length; i++) {
    const cur = all[i]!;
    if (cur.fromFile) continue;
    const next = all[i + 1];
    if (next?.fromFile && compareKeys(cur.key, next.key) === 0) continue;
    // Prepending while walking upwards leaves the list in descending order.
    removals.unshift(newPeer({ publicKey: Uint8Array.from(cur.key), remove: true }));
  }
  return removals;
}

/** syncconf's rewrite of a replace-everything request once the device's peers are known. */
export function syncAgainst(file: Device, current: Device): void {
  if (file.peers.length === 0 || current.peers.length === 0) return;
  file.replacePeers = false;
  file.peers.unshift(...syncRemovals(file.peers, current.peers));
}

/**
 * Whether the endpoint names of this config go to the backend unresolved: the backend behind
 * `iface` resolves names itself (wgm-engine's `endpoint_names`: a peer whose names do not
 * resolve yet comes up with its other endpoints, and the names join when they resolve), and
 * WG_ENDPOINT_RESOLUTION_RETRIES is unset or `infinity` (never give up, which the engine does
 * without holding the tunnel back; wgm@.service sets it, as wg-quick@.service does). A number
 * asks for wg's behaviour: resolve here, with that many retries, and fail when a name does not
 * resolve. Asks the backend only when the text has a name; text that does not parse is left
 * to the ordinary path to report.
 */
export async function backendResolvesNames(
  iface: string,
  text: string,
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<boolean> {
  const retries = env[RETRIES_ENV];
  if (retries !== undefined && retries !== 'infinity') return false;
  let named = false;
  try {
    for (const p of parseConfig(text, { file }).device.peers)
      for (const e of p.endpoints) if (e.spec && isDnsName(hostOf(e.spec))) named = true;
  } catch {
    return false;
  }
  if (!named) return false;
  try {
    return (await capabilities(iface)).endpointNames === true;
  } catch {
    return false; // the apply reports what is wrong with the interface
  }
}

function hostOf(spec: string): string {
  try {
    return splitEndpoint(spec).host;
  } catch {
    return '';
  }
}

export async function runConf(verb: ConfVerb, args: string[], ctx: Ctx): Promise<number> {
  if (args.length !== 2) {
    ctx.err(`Usage: ${ctx.prog} ${verb} <interface> <configuration filename>\n`);
    return 1;
  }
  // wg cuts the name to 15 bytes for the whole operation, syncconf's pre-read included.
  const iface = wgName(args[0]!);
  const file = args[1]!;
  // Read once: the file may be a pipe (/dev/stdin, wg-quick's /dev/fd/63).
  const text = readConfigText(file);
  const { device, peerLines } = await loadParsedConfig(text, {
    file,
    env: ctx.env,
    deferNames: await backendResolvesNames(iface, text, file, ctx.env),
    onWarning: (t) => ctx.err(`${t}\n`),
  });
  await applyConf(
    verb,
    iface,
    device,
    peerLines.map((line) => ({ file, line })),
  );
  return 0;
}

/** Overwrites the private key and preshared keys of a change once it has been sent (or refused). */
export function wipeSecrets(device: Device): void {
  device.privateKey?.fill(0);
  for (const p of device.peers) p.presharedKey?.fill(0);
}

export async function applyConf(
  verb: ConfVerb,
  iface: string,
  device: Device,
  sources: PeerSource[],
): Promise<void> {
  // The change's keys are overwritten once it was sent or refused, whatever happened.
  try {
    if (verb !== 'addconf') replaceEverything(device);
    await ensureBackendCanHold(iface, device, {
      capabilities: (name) =>
        capabilities(name).catch((e: unknown) => wrapBackend('Unable to modify interface', e)),
      sources,
      from: 'file',
    });
    if (verb === 'syncconf' && device.peers.length > 0) {
      const current = await getDevice(iface).catch((e: unknown) =>
        wrapBackend('Unable to retrieve current interface configuration', e),
      );
      syncAgainst(device, current);
    }
    await setDevice(iface, device).catch((e: unknown) => wrapBackend('Unable to modify interface', e));
  } finally {
    wipeSecrets(device);
  }
}
