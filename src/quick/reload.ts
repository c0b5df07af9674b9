// `wgm reload CONFIG_FILE|INTERFACE`: a changed config applied to a running interface without
// dropping sessions. What distro units do by hand (`wg syncconf IF <(wg-quick strip IF)`, the
// ExecReload of wg-quick@.service), plus the parts wg-quick owns: addresses added or removed,
// MTU, a route for each new allowed IP and none for a removed one, and DNS. The policy routing of
// the default-route case (a `/0` allowed IP appearing or going, or a new Table) is not changed
// in place: reload says so and leaves it; `wgm down` then `wgm up` applies it.

import { listDevices } from '../backend/backend.js';
import { WgError } from '../model/errors.js';
import { inetNtop, inetPton4, inetPton6 } from '../model/inet.js';
import { setDns, unsetDns } from './dns.js';
import { addRoute, familyOf, sortedAllowedIPs, tableMode } from './net.js';
import { Runner, type RunnerIo } from './run.js';
import { loadState, type QuickState, saveState } from './state.js';
import { loadQuick, type QuickDeps, requireRoot } from './up.js';

/** `10.0.0.1` → `10.0.0.1/32`, `fd00:0::1/64` → `fd00::1/64`: comparable address text. */
export function normalizeAddress(a: string): string {
  const [host = '', len] = a.split('/');
  const fam = familyOf(host);
  const bytes = fam === 6 ? inetPton6(host) : inetPton4(host);
  const text = bytes ? inetNtop(bytes) : host;
  return `${text}/${len ?? (fam === 6 ? '128' : '32')}`;
}

async function linkAddresses(runner: Runner, iface: string): Promise<Set<string>> {
  const r = await runner.query(['ip', '-o', 'addr', 'show', 'dev', iface]);
  const out = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const m = /inet6? ([0-9a-f:.]+\/[0-9]+)/.exec(line);
    if (m) out.add(normalizeAddress(m[1]!));
  }
  return out;
}

export async function reload(arg: string, io: RunnerIo, deps: QuickDeps): Promise<number> {
  requireRoot('reload');
  const q = loadQuick(arg, io);
  const { iface, cfg } = q;
  if (!(await listDevices()).includes(iface))
    throw new WgError('quick', `\`${iface}' is not a WireGuard interface`);
  const runner = new Runner(io);
  const recorded = loadState(iface);
  const state: QuickState = recorded ?? {
    version: 1,
    iface,
    configFile: q.path,
    backend: { kind: 'kernel' },
    addresses: [],
    routes: [],
    preDown: [],
    postDown: [],
    saveConfig: false,
  };
  // Only a record `up` made is updated: a record invented here would make a later `down` skip
  // what the file says (its hooks, its DNS) for an interface wgm did not bring up.
  const commit = () => {
    if (recorded) saveState(state);
  };
  try {
    runner.trace(`wgm syncconf ${iface} /dev/fd/63`);
    // The fwmark of the default-route case is run-time state the file does not hold; syncconf
    // would reset it to off, and the tunnel's own packets would then loop into the tunnel.
    const keep = state.defaultRoute ? { fwmark: state.defaultRoute.table } : {};
    await deps.applyConfig('syncconf', iface, q.wgText, q.path, { ...keep, peerOptions: q.peerOptions });

    const want = cfg.addresses.map(normalizeAddress);
    const have = await linkAddresses(runner, iface);
    for (const a of cfg.addresses) {
      if (have.has(normalizeAddress(a))) continue;
      await runner.cmd(['ip', `-${familyOf(a)}`, 'address', 'add', a, 'dev', iface]);
    }
    for (const a of state.addresses) {
      if (want.includes(normalizeAddress(a)) || !have.has(normalizeAddress(a))) continue;
      await runner.cmd(['ip', `-${familyOf(a)}`, 'address', 'del', a, 'dev', iface]);
    }
    state.addresses = [...cfg.addresses];
    commit();

    if (cfg.mtu !== undefined && cfg.mtu !== '' && cfg.mtu !== state.mtu) {
      await runner.cmd(['ip', 'link', 'set', 'mtu', cfg.mtu, 'dev', iface]);
      state.mtu = cfg.mtu;
      commit();
    }

    await reloadRoutes(runner, iface, cfg.table, state, commit);
    await reloadDns(runner, iface, cfg.dns, cfg.dnsSearch, state, commit);
    return 0;
  } catch (e) {
    if (!(e instanceof WgError)) throw e;
    deps.report(e);
    return e.exitCode;
  }
}

async function reloadRoutes(
  runner: Runner,
  iface: string,
  table: string | undefined,
  state: QuickState,
  commit: () => void,
): Promise<void> {
  const allowed = await sortedAllowedIPs(iface);
  const hasDefault = allowed.some((a) => a.endsWith('/0'));
  const hadDefault = (state.defaultRoute?.families.length ?? 0) > 0;
  if ((table ?? '') !== (state.table ?? '') || (tableMode(table) === 'auto' && hasDefault !== hadDefault)) {
    runner.note('Table or default-route changes are not applied by reload: run `wgm down` and `wgm up`');
    return;
  }
  const mode = tableMode(table);
  if (mode === 'off') return;
  for (const r of [...state.routes]) {
    if (r.cidr.endsWith('/0') || allowed.includes(r.cidr)) continue;
    const args = ['ip', `-${r.family}`, 'route', 'del', r.cidr, 'dev', iface];
    if (r.table !== undefined) args.push('table', r.table);
    await runner.cmdIgnore(args);
    state.routes = state.routes.filter((x) => x !== r);
    commit();
  }
  for (const cidr of allowed) {
    if (cidr.endsWith('/0') && mode === 'auto') continue;
    if (await addRoute(runner, iface, cidr, state)) commit();
  }
}

async function reloadDns(
  runner: Runner,
  iface: string,
  servers: string[],
  search: string[],
  state: QuickState,
  commit: () => void,
): Promise<void> {
  const same =
    JSON.stringify(state.dns?.servers ?? []) === JSON.stringify(servers) &&
    JSON.stringify(state.dns?.search ?? []) === JSON.stringify(servers.length > 0 ? search : []);
  if (same) return;
  if (state.dns) {
    await unsetDns(runner, state.dns);
    delete state.dns;
    commit();
  }
  await setDns(runner, iface, servers, search, state, commit);
}
