// DNS while the interface is up (wireguard-tools src/wg-quick/linux.bash: set_dns, unset_dns,
// resolvconf_iface_prefix). wg-quick always pipes `nameserver`/`search` lines into
// `resolvconf -a PREFIXIF -m 0 -x`. wgm does the same whenever a `resolvconf` is on PATH
// (Debian's, openresolv, or systemd's resolvconf emulation); on a host without one where
// systemd-resolved runs, it talks to resolved directly with `resolvectl dns`/`domain` (the
// `~.` routing domain makes the interface's servers take every query, as `-x` does). With
// neither, it fails as wg-quick does (status 127, "resolvconf: command not found").

import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { onPath, type Runner } from './run.js';
import type { QuickState } from './state.js';

/** The `tun.` style prefix Debian's resolvconf orders interfaces by, or ''. */
export function resolvconfPrefix(): string {
  const path = '/etc/resolvconf/interface-order';
  try {
    if (!lstatSync(path).isFile()) return '';
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
      if (m) return `${m[1]}.`;
    }
  } catch {}
  return '';
}

/** systemd-resolved is running (its varlink socket or runtime directory is there). */
function resolvedRuns(): boolean {
  return (
    existsSync('/run/systemd/resolve/io.systemd.Resolve') || existsSync('/run/systemd/resolve/resolv.conf')
  );
}

export async function setDns(
  runner: Runner,
  iface: string,
  servers: string[],
  search: string[],
  state: QuickState,
  commit: () => void,
): Promise<void> {
  if (servers.length === 0) return;
  const useResolvconf =
    (await onPath(runner, 'resolvconf')) || !(await onPath(runner, 'resolvectl')) || !resolvedRuns();
  if (useResolvconf) {
    const name = `${resolvconfPrefix()}${iface}`;
    let input = servers.map((s) => `nameserver ${s}\n`).join('');
    if (search.length > 0) input += `search ${search.join(' ')}\n`;
    // Recorded before the command: a resolvconf that fails half-way is still undone.
    state.dns = { method: 'resolvconf', name, servers, search };
    commit();
    await runner.cmd(['resolvconf', '-a', name, '-m', '0', '-x'], { input });
    return;
  }
  state.dns = { method: 'resolvectl', name: iface, servers, search };
  commit();
  await runner.cmd(['resolvectl', 'dns', iface, ...servers]);
  await runner.cmd(['resolvectl', 'domain', iface, '~.', ...search]);
}

/** unset_dns: errors are reported and ignored, as wg-quick's `unset_dns || true`. */
export async function unsetDns(runner: Runner, dns: NonNullable<QuickState['dns']>): Promise<void> {
  if (dns.method === 'resolvconf') await runner.cmdIgnore(['resolvconf', '-d', dns.name, '-f']);
  else await runner.cmdIgnore(['resolvectl', 'revert', dns.name]);
}
