// Interface enumeration as wg does it (wireguard-tools ipc.c, ipc_list_devices): kernel WireGuard links first, then the
// userspace sockets in /var/run/wireguard in raw readdir order (not sorted: Node's readdirSync
// sorts, opendirSync does not), names longer than `.sock` that pass the userspace check. The
// check removes stale sockets, so listing cleans up after dead daemons exactly as wg does.

import { opendirSync } from 'node:fs';
import { backendError, errnoOf, isUserspace, UAPI_DIR, UAPI_SUFFIX } from './uapi.js';

/** Candidate interface names from the socket directory, in raw readdir order. */
export function socketNames(): string[] {
  let dir: ReturnType<typeof opendirSync>;
  try {
    dir = opendirSync(UAPI_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw backendError(errnoOf(e), '', 'uapi', e);
  }
  const names: string[] = [];
  try {
    for (let ent = dir.readSync(); ent !== null; ent = dir.readSync()) {
      if (ent.name.length > UAPI_SUFFIX.length && ent.name.endsWith(UAPI_SUFFIX)) {
        names.push(ent.name.slice(0, -UAPI_SUFFIX.length));
      }
    }
  } catch (e) {
    throw backendError(errnoOf(e), '', 'uapi', e);
  } finally {
    dir.closeSync();
  }
  return names;
}

/** Userspace interfaces: socket names that answer (or at least are not refused), in readdir order. */
export async function listUserspace(): Promise<string[]> {
  const names = socketNames();
  const live = await Promise.all(names.map((n) => isUserspace(n)));
  return names.filter((_, i) => live[i]);
}
