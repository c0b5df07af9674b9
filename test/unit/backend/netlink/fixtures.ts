// Loading the kernel replies recorded in the test VM (test/vm/record-fixtures.ts).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeLink } from '../../../../src/backend/netlink/links.js';
import { splitMessages } from '../../../../src/backend/netlink/messages.js';
import type { ScopeNames } from '../../../../src/backend/netlink/sockaddr.js';
import { ROOT } from '../../../lib/run.js';

export interface Fixture {
  describe: string;
  familyId: number;
  request: string;
  recvSize: number;
  datagrams: string[];
  errno: number;
  wg: Record<string, string>;
}

export function fixture(name: string): Fixture {
  return JSON.parse(readFileSync(join(ROOT, 'test/fixtures/netlink', `${name}.json`), 'utf8')) as Fixture;
}

export function bytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** The guest's interface names by index, from the recorded RTM_GETLINK dump. */
export function guestScopes(): ScopeNames {
  const byIndex = new Map<number, string>();
  for (const d of fixture('links').datagrams) {
    for (const m of splitMessages(bytes(d))) {
      const link = decodeLink(m);
      if (link?.name !== undefined) byIndex.set(link.ifindex, link.name);
    }
  }
  return {
    nameOf: (i) => byIndex.get(i),
    indexOf: (n) => [...byIndex].find(([, name]) => name === n)?.[0] ?? 0,
  };
}
