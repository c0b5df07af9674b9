// Who is there and what can each hold: the kernel family (present or not, and why), every
// userspace daemon behind /var/run/wireguard (which implementation answers, which process owns
// the socket, can it hold several endpoints per peer), or the backend behind one interface.
// Listing removes stale sockets, as wg's listing does.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isWgError } from '../model/errors.js';
import { CAPABILITY_MULTI_ENDPOINT, type GetExtensions } from '../uapi/get.js';
import { EPROTONOSUPPORT, loadKernel } from './backend.js';
import { socketNames } from './list.js';
import { isUserspace, socketPath, UAPI_DIR, uapiGet } from './uapi.js';

export interface ProcessInfo {
  pid: number;
  /** /proc/PID/comm, e.g. `wireguard-go`. */
  command: string;
}

export interface KernelProbe {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
  /** WireGuard links, when they could be listed. */
  interfaces: string[];
  /** Listing the links failed: the message. */
  error?: string;
}

export interface DaemonProbe {
  name: string;
  socket: string;
  /** It answered a get. */
  answers: boolean;
  /** Why it did not (strerror text). */
  error?: string;
  implementation?: string;
  capabilities: string[];
  multiEndpoint: boolean;
  process?: ProcessInfo;
}

export interface ProbeReport {
  kernel: KernelProbe;
  socketDir: string;
  daemons: DaemonProbe[];
  /** Names whose socket refused connections and was removed. */
  staleRemoved: string[];
}

export interface InterfaceProbe {
  name: string;
  backend: 'uapi' | 'kernel' | 'none';
  /** Why nothing answers, or the failure of the one that should (strerror text). */
  error?: string;
  daemon?: DaemonProbe;
  multiEndpoint: boolean;
}

function message(e: unknown): string {
  return isWgError(e) ? e.message : e instanceof Error ? e.message : String(e);
}

export async function probeKernel(): Promise<KernelProbe> {
  const k = await loadKernel();
  if (!k.api) return { available: false, reason: k.reason, interfaces: [] };
  let status: { available: boolean; reason?: string };
  try {
    status = await k.api.kernelStatus();
  } catch (e) {
    status = { available: false, reason: message(e) };
  }
  const out: KernelProbe = { available: status.available, interfaces: [] };
  if (status.reason !== undefined) out.reason = status.reason;
  try {
    out.interfaces = await k.api.kernelList();
  } catch (e) {
    out.error = message(e);
  }
  return out;
}

function extensionsOf(
  ext: GetExtensions | undefined,
): Pick<DaemonProbe, 'implementation' | 'capabilities' | 'multiEndpoint'> {
  const caps = ext?.capabilities ?? [];
  const out: Pick<DaemonProbe, 'implementation' | 'capabilities' | 'multiEndpoint'> = {
    capabilities: caps,
    multiEndpoint: caps.includes(CAPABILITY_MULTI_ENDPOINT),
  };
  if (ext?.implementation !== undefined) out.implementation = ext.implementation;
  return out;
}

async function probeDaemon(name: string, owners: Map<string, ProcessInfo>): Promise<DaemonProbe> {
  const base = { name, socket: socketPath(name) };
  let d: DaemonProbe;
  try {
    const r = await uapiGet(name);
    if (r === 'not-userspace')
      d = { ...base, answers: false, error: 'the socket is gone', ...extensionsOf(undefined) };
    else d = { ...base, answers: true, ...extensionsOf(r.ext) };
  } catch (e) {
    d = { ...base, answers: false, error: message(e), ...extensionsOf(undefined) };
  }
  const owner = owners.get(name);
  if (owner) d.process = owner;
  return d;
}

/** Everything: kernel status and links, then every daemon socket in readdir order. */
export async function probeAll(): Promise<ProbeReport> {
  const kernel = await probeKernel();
  const names = socketNames();
  const live = await Promise.all(names.map((n) => isUserspace(n)));
  const staleRemoved = names.filter((_, i) => !live[i]);
  const owners = socketOwners();
  const daemons = await Promise.all(names.filter((_, i) => live[i]).map((n) => probeDaemon(n, owners)));
  return { kernel, socketDir: UAPI_DIR, daemons, staleRemoved };
}

/** The backend that answers for NAME, as getDevice would choose it. */
export async function probeInterface(name: string): Promise<InterfaceProbe> {
  if (await isUserspace(name)) {
    const daemon = await probeDaemon(name, socketOwners());
    const out: InterfaceProbe = { name, backend: 'uapi', daemon, multiEndpoint: daemon.multiEndpoint };
    if (daemon.error !== undefined) out.error = daemon.error;
    return out;
  }
  const k = await loadKernel();
  if (!k.api)
    return { name, backend: 'none', error: `Protocol not supported (${k.reason})`, multiEndpoint: false };
  try {
    await k.api.kernelGet(name);
    return { name, backend: 'kernel', multiEndpoint: false };
  } catch (e) {
    const errno = isWgError(e) ? e.errno : undefined;
    return {
      name,
      backend: errno === EPROTONOSUPPORT ? 'none' : 'kernel',
      error: message(e),
      multiEndpoint: false,
    };
  }
}

const LISTENING = 0x10000; // __SO_ACCEPTCON in /proc/net/unix's Flags column
// wgm-engine binds `IF.sock.PID.tmp` and renames it into place; /proc/net/unix keeps the bound name.
const SOCKET_RE = /\/wireguard\/([^/]+)\.sock(?:\.[0-9]+\.tmp)?$/;

/**
 * Which process owns each UAPI socket: the listening socket's inode from /proc/PID/net/unix
 * (one read per network namespace, since a daemon may live in another one), then the process
 * holding that inode among its file descriptors. Best effort: unreadable entries are skipped.
 */
export function socketOwners(): Map<string, ProcessInfo> {
  const owners = new Map<string, ProcessInfo>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p));
  } catch {
    return owners;
  }
  const inodeToName = new Map<string, string>();
  const seenNs = new Set<string>();
  for (const pid of pids) {
    try {
      const ns = readlinkSync(`/proc/${pid}/ns/net`);
      if (seenNs.has(ns)) continue;
      seenNs.add(ns);
      for (const line of readFileSync(`/proc/${pid}/net/unix`, 'latin1').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 8) continue;
        const m = SOCKET_RE.exec(cols.slice(7).join(' '));
        if (m && (Number.parseInt(cols[3]!, 16) & LISTENING) !== 0) inodeToName.set(cols[6]!, m[1]!);
      }
    } catch {}
  }
  if (inodeToName.size === 0) return owners;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[([0-9]+)\]$/.exec(target);
      const name = m ? inodeToName.get(m[1]!) : undefined;
      if (name === undefined || owners.has(name)) continue;
      let command = '?';
      try {
        command = readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
      } catch {}
      owners.set(name, { pid: Number(pid), command });
    }
  }
  return owners;
}
