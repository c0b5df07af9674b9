// Follows the engine's TUN interface wherever it goes, by its fd rather than its name.
//
// The container pattern of WireGuard creates the interface where the uplink is and then moves
// it into another namespace (`ip link set wg0 netns NS`). Kernel WireGuard and wireguard-go
// keep running: their UDP socket stays in the namespace it was born in, the moved interface
// keeps carrying packets, and `wg` still reaches the UAPI socket (a file, in no namespace).
// So a move must not look like a deletion. The name is no help after a move: it is gone from
// the birth namespace (and may be taken there by another interface later). The TUN queue fd
// is: it stays attached to the device in any namespace, and the kernel detaches it only when
// the device is deleted (TUNGETIFF then fails with EBADFD, as the queue's read does).
//
// LinkWatch.check() is called every second by the daemon; it says when the interface is gone
// and logs (at the verbose level, wireguard-go's only level for what is not an error) when it
// moved to another namespace, moved back, or was renamed.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SysError } from '../sys/libc.js';
import { EBADF, EBADFD } from '../sys/native.js';
import type { TunLocation } from '../sys/tun.js';
import type { Logger } from './log.js';

/** Where `ip netns add` mounts the namespaces it names (ip-netns(8)). */
const NETNS_RUN_DIR = '/run/netns';

export interface Locatable {
  location(): TunLocation;
}

/** The `ip netns` name of the namespace with inode `ino`, or `net:[ino]` when it has none. */
export function netnsName(ino: number, dir = NETNS_RUN_DIR): string {
  try {
    for (const name of readdirSync(dir)) {
      try {
        if (statSync(join(dir, name)).ino === ino) return name;
      } catch {
        // Being deleted: not this one.
      }
    }
  } catch {
    // No named namespaces.
  }
  return `net:[${ino}]`;
}

export class LinkWatch {
  private last: TunLocation;

  constructor(
    private readonly tun: Locatable,
    private readonly log: Logger,
    name: string,
  ) {
    try {
      this.last = tun.location();
    } catch {
      // Gone already: the first check() says so.
      this.last = { name, netns: undefined, moved: false };
    }
  }

  /** Looks at the interface once: true when it was deleted. */
  check(): boolean {
    let now: TunLocation;
    try {
      now = this.tun.location();
    } catch (e) {
      if (e instanceof SysError && (e.errno === EBADFD || e.errno === EBADF)) return true;
      this.log.error(`Cannot locate the interface: ${(e as Error).message}`);
      return false;
    }
    const was = this.last;
    this.last = now;
    if (now.netns !== was.netns) {
      const as = now.name !== was.name ? ` as ${now.name}` : '';
      this.log.verbose(
        now.moved
          ? `Interface moved to network namespace ${netnsName(now.netns ?? 0)}${as}; the UDP socket stays where it was`
          : `Interface moved back to the network namespace it was created in${as}`,
      );
    } else if (now.name !== was.name) {
      this.log.verbose(`Interface renamed to ${now.name}`);
    }
    return false;
  }
}
