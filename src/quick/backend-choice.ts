// Which backend `wgm up` brings the interface up on, and the one trace line that says why.
//
//   WGM_BACKEND=auto (default): the kernel's WireGuard when every peer has at most one
//     endpoint and `ip link add IF type wireguard` works (which also loads the module on
//     demand, as with wg-quick); otherwise a userspace daemon: WG_QUICK_USERSPACE_IMPLEMENTATION
//     when set, else the bundled wgm-engine. A daemon that cannot hold several endpoints per
//     peer is refused later, before the config is applied (capability check).
//   WGM_BACKEND=kernel: the kernel or an error (several endpoints, or no kernel WireGuard).
//   WGM_BACKEND=engine: the userspace daemon, even where the kernel would do.

import type { MultiPeer } from '../config/multi.js';
import { WgError } from '../model/errors.js';

export type BackendMode = 'auto' | 'kernel' | 'engine';

export interface Userspace {
  /** What the trace shows and the state records (`wgm-engine`, `wireguard-go`). */
  name: string;
  /** The command to run, without the interface name. */
  argv: string[];
}

export function backendMode(env: NodeJS.ProcessEnv): BackendMode {
  const v = env['WGM_BACKEND'];
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'kernel' || v === 'engine') return v;
  throw new WgError('usage', `WGM_BACKEND=${v} is not one of auto, kernel, engine`);
}

/** The userspace daemon: WG_QUICK_USERSPACE_IMPLEMENTATION, or the bundled wgm-engine. */
export function userspace(env: NodeJS.ProcessEnv, engineScript: string): Userspace {
  const impl = env['WG_QUICK_USERSPACE_IMPLEMENTATION'];
  if (impl !== undefined && impl !== '') return { name: impl, argv: [impl] };
  return { name: 'wgm-engine', argv: [process.execPath, engineScript] };
}

export function describeMulti(m: MultiPeer[]): string {
  const first = m[0]!;
  const more = m.length > 1 ? ` (and ${m.length - 1} more peer${m.length > 2 ? 's' : ''})` : '';
  const at = first.line !== undefined ? ` on line ${first.line}` : '';
  return `peer ${first.peer}${at} has ${first.count} endpoints${more}`;
}

/** The refusal of WGM_BACKEND=kernel for a config the kernel cannot hold. */
export function kernelCannotHold(m: MultiPeer[]): WgError {
  return new WgError(
    'capability',
    `WGM_BACKEND=kernel, but ${describeMulti(m)}, and kernel WireGuard holds one endpoint per peer`,
    { trailer: ['Nothing was changed. Unset WGM_BACKEND (or set it to engine) to run wgm-engine.'] },
  );
}
