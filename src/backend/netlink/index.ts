// Kernel WireGuard through generic netlink: the kernel half of the backend facade
// (briefs: backend-api.md). Each call opens its own netlink socket and closes it.
//
//   kernelStatus()          is the "wireguard" generic netlink family registered?
//   kernelList()            names of kernel WireGuard links, in rtnetlink dump (ifindex) order
//   kernelGet(name)         the device, peers coalesced across dump messages
//   kernelSet(name, change) the change, split into messages exactly as wg splits them
//
// Failures are WgError('backend', <strerror text>, { errno, where: { iface, backend: 'kernel' } }),
// with the kernel's errno; no family → EPROTONOSUPPORT ("Protocol not supported"), as wg says.

import { WgError } from '../../model/errors.js';
import type { Device } from '../../model/index.js';
import { ifIndexToName, ifNameToIndex } from '../../sys/ifname.js';
import { SysError, strerror } from '../../sys/libc.js';
import { NETLINK_GENERIC, NETLINK_ROUTE } from '../../sys/netlink.js';
import { DUMP_RESTARTS_MAX, EINTR, ENAMETOOLONG, IFNAMSIZ, WG_GENL_NAME } from './constants.js';
import { DeviceDump, encodeGetDevice } from './device-get.js';
import { encodeSetDevice } from './device-set.js';
import { NetlinkError } from './errors.js';
import { resolveFamily } from './family.js';
import { decodeLink, encodeGetLinks, isWireGuardLink } from './links.js';
import type { ScopeNames } from './sockaddr.js';
import { withConnection } from './transport.js';

export const KERNEL_BACKEND = 'kernel';

export interface KernelStatus {
  available: boolean;
  /** Why not, in wg's words (strerror text, e.g. `Protocol not supported`). */
  reason?: string;
  /** The positive errno behind `reason`, when there is one. */
  errno?: number;
}

const scopes: ScopeNames = { nameOf: ifIndexToName, indexOf: ifNameToIndex };

function errnoOf(e: unknown): number | undefined {
  return e instanceof NetlinkError || e instanceof SysError ? e.errno : undefined;
}

function backendError(e: unknown, iface?: string): WgError {
  if (e instanceof WgError) return e;
  const errno = errnoOf(e);
  const where = iface === undefined ? { backend: KERNEL_BACKEND } : { iface, backend: KERNEL_BACKEND };
  if (errno === undefined) {
    return new WgError('internal', e instanceof Error ? e.message : String(e), { where, cause: e });
  }
  return new WgError('backend', strerror(errno), { errno, where, cause: e });
}

/** Whether the kernel has WireGuard (resolving the family also autoloads the module). */
export async function kernelStatus(): Promise<KernelStatus> {
  try {
    withConnection(NETLINK_GENERIC, (c) => resolveFamily(c, WG_GENL_NAME));
    return { available: true };
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === undefined) return { available: false, reason: e instanceof Error ? e.message : String(e) };
    return { available: false, reason: strerror(errno), errno };
  }
}

/** Kernel WireGuard interface names in dump order; a dump interrupted by a change yields what it got, as in wg. */
export async function kernelList(): Promise<string[]> {
  const names: string[] = [];
  try {
    withConnection(NETLINK_ROUTE, (c) =>
      c.request(encodeGetLinks(), (m) => {
        const link = decodeLink(m);
        if (link && isWireGuardLink(link)) names.push(link.name);
      }),
    );
  } catch (e) {
    if (errnoOf(e) !== EINTR) throw backendError(e);
  }
  return names;
}

/**
 * The device `name` with its peers. A dump interrupted by a concurrent change is restarted,
 * as wg does; wg retries without end, wgm gives up with EINTR after DUMP_RESTARTS_MAX tries.
 */
export async function kernelGet(name: string): Promise<Device> {
  if (new TextEncoder().encode(name).length >= IFNAMSIZ) {
    throw backendError(new NetlinkError(ENAMETOOLONG, 'interface name too long'), name);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return withConnection(NETLINK_GENERIC, (c) => {
        const family = resolveFamily(c, WG_GENL_NAME);
        const dump = new DeviceDump(scopes);
        c.request(encodeGetDevice(family, name), (m) => dump.add(m));
        return dump.device();
      });
    } catch (e) {
      if (errnoOf(e) === EINTR && attempt < DUMP_RESTARTS_MAX) continue;
      throw backendError(e, name);
    }
  }
}

/**
 * Applies `change` to `name`. Like wg, a change too big for one message goes out as several,
 * each acknowledged before the next; a failure stops there and earlier messages stay applied.
 * The kernel holds one endpoint per peer: the last of `endpoints` is sent.
 */
export async function kernelSet(name: string, change: Device): Promise<void> {
  try {
    withConnection(NETLINK_GENERIC, (c) => {
      const family = resolveFamily(c, WG_GENL_NAME);
      for (const m of encodeSetDevice(family, name, change, scopes)) c.request(m);
    });
  } catch (e) {
    throw backendError(e, name);
  }
}
