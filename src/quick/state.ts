// What `wgm up` did to the system, written to /run/wgm/IF.json (0600, in a 0700 directory) as
// each step lands, so that `wgm down` undoes exactly that, even if the config file changed
// since, and `wgm reload` knows which addresses and routes are its own. /run is emptied at
// boot, so a record never outlives the interface it describes; the ifindex guards against a
// record left by a crashed `up` of an older link of the same name.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export const STATE_DIR = '/run/wgm';

export interface QuickState {
  version: 1;
  iface: string;
  ifindex?: number;
  configFile: string;
  backend: { kind: 'kernel' | 'userspace'; program?: string; pid?: number };
  /** The Table value up used (unset, auto, off, a number or a name). */
  table?: string;
  /** The fwmark/table number of the default-route case, and the families it was used for. */
  defaultRoute?: { table: number; families: (4 | 6)[] };
  /** Addresses up added, as given (`10.0.0.1/24`). */
  addresses: string[];
  /** Routes up added: family, prefix, and table (undefined = main). */
  routes: { family: 4 | 6; cidr: string; table?: string }[];
  /** DNS as set: the method and the name it was set under. */
  dns?: { method: 'resolvconf' | 'resolvectl'; name: string; servers: string[]; search: string[] };
  /** The firewall tool used for the default-route marks. */
  firewall?: 'nft' | 'iptables';
  mtu?: string;
  preDown: string[];
  postDown: string[];
  saveConfig: boolean;
}

export function statePath(iface: string): string {
  return `${STATE_DIR}/${iface}.json`;
}

/** Writes the record atomically (temp file and rename), 0600. */
export function saveState(state: QuickState): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const path = statePath(state.iface);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The record for IFACE, or undefined when there is none or it cannot be read. */
export function loadState(iface: string): QuickState | undefined {
  try {
    const s = JSON.parse(readFileSync(statePath(iface), 'utf8')) as QuickState;
    return s.version === 1 && s.iface === iface ? s : undefined;
  } catch {
    return undefined;
  }
}

export function removeState(iface: string): void {
  rmSync(statePath(iface), { force: true });
}
