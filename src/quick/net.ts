// Links, addresses, MTU, routes and policy rules, through `ip` as wg-quick does them
// (wireguard-tools src/wg-quick/linux.bash: add_addr, set_mtu_up, add_route, add_default,
// del_if). The trace lines are wg-quick's.

import { getDevice, setDevice } from '../backend/backend.js';
import { type Device, newDevice } from '../model/index.js';
import { formatAllowedIP, formatHost } from '../model/inet.js';
import type { Runner } from './run.js';
import type { QuickState } from './state.js';

export type Family = 4 | 6;

export function familyOf(text: string): Family {
  return text.includes(':') ? 6 : 4;
}

/** `ip link show dev IF` prints something: the link exists. */
export async function linkExists(runner: Runner, iface: string): Promise<boolean> {
  const r = await runner.query(['ip', 'link', 'show', 'dev', iface]);
  return r.status === 0 && r.stdout.trim() !== '';
}

export async function ifindexOf(runner: Runner, iface: string): Promise<number | undefined> {
  const r = await runner.query(['ip', '-j', 'link', 'show', 'dev', iface]);
  if (r.status !== 0) return undefined;
  try {
    return (JSON.parse(r.stdout) as { ifindex: number }[])[0]?.ifindex;
  } catch {
    return undefined;
  }
}

/** add_addr: `ip -4|-6 address add ADDR dev IF`. */
export async function addAddress(runner: Runner, iface: string, addr: string): Promise<void> {
  await runner.cmd(['ip', `-${familyOf(addr)}`, 'address', 'add', addr, 'dev', iface]);
}

/** `mtu N` from `ip route get` output, or from the link its `dev D` names. */
async function mtuOfRoute(runner: Runner, output: string): Promise<number> {
  const m = /mtu ([0-9]+)/.exec(output);
  if (m) return Number(m[1]);
  const d = /dev ([^ ]+)/.exec(output);
  if (!d) return 0;
  const link = await runner.query(['ip', 'link', 'show', 'dev', d[1]!]);
  const lm = /mtu ([0-9]+)/.exec(link.stdout);
  return lm ? Number(lm[1]) : 0;
}

/**
 * set_mtu_up: the given MTU, or the largest MTU of the routes to the peers' endpoints (every
 * candidate of a peer with several), else of the default route, else 1500; minus 80 (the
 * WireGuard overhead over IPv6). The installed wg-quick keeps the largest; later versions the
 * smallest.
 */
export async function setMtuUp(runner: Runner, iface: string, mtu: string | undefined): Promise<void> {
  if (mtu !== undefined && mtu !== '') {
    await runner.cmd(['ip', 'link', 'set', 'mtu', mtu, 'up', 'dev', iface]);
    return;
  }
  let best = 0;
  const device = await getDevice(iface);
  for (const host of endpointHosts(device)) {
    const out = await runner.query(['ip', 'route', 'get', host]);
    const n = await mtuOfRoute(runner, out.stdout);
    if (n > best) best = n;
  }
  if (best === 0) {
    const def = await runner.query(['ip', 'route', 'show', 'default']);
    const first = def.stdout.split('\n')[0] ?? '';
    if (first !== '') best = await mtuOfRoute(runner, first);
  }
  if (best <= 0) best = 1500;
  await runner.cmd(['ip', 'link', 'set', 'mtu', String(best - 80), 'up', 'dev', iface]);
}

/** Endpoint hosts wg-quick's pattern accepts (no `%scope`), every candidate once. */
function endpointHosts(device: Device): string[] {
  const out = new Set<string>();
  for (const p of device.peers) {
    const addrs = [...p.endpoints.map((e) => e.addr), p.activeEndpoint];
    for (const a of addrs) {
      if (!a) continue;
      const host = formatHost(a);
      if (/^[a-z0-9:.]+$/.test(host)) out.add(host);
    }
  }
  return [...out];
}

/**
 * The device's allowed IPs in wg-quick's order: `sort -nr -k 2 -t /`, prefix length
 * descending, ties in reverse byte order of the whole text (so `::/0` before `0.0.0.0/0`).
 */
export async function sortedAllowedIPs(iface: string): Promise<string[]> {
  const device = await getDevice(iface);
  const all: string[] = [];
  for (const p of device.peers) for (const a of p.allowedIPs) all.push(formatAllowedIP(a));
  return sortLikeWgQuick(all);
}

/** `sort -nr -k 2 -t /` under LC_ALL=C: prefix length descending, then whole text descending. */
export function sortLikeWgQuick(cidrs: string[]): string[] {
  return [...cidrs].sort((a, b) => {
    const d = Number(b.split('/')[1]) - Number(a.split('/')[1]);
    if (d !== 0) return d;
    return Buffer.compare(Buffer.from(b), Buffer.from(a));
  });
}

/** Mode of the Table key: unset and `auto` are the same. */
export function tableMode(table: string | undefined): 'auto' | 'off' | 'custom' {
  if (table === undefined || table === '' || table === 'auto') return 'auto';
  return table === 'off' ? 'off' : 'custom';
}

/**
 * add_route for every allowed IP. Records each route it adds and, for `/0` in the automatic
 * table, the default-route case (fwmark, table, rules, firewall through `firewall`).
 */
export async function addRoutes(
  runner: Runner,
  iface: string,
  state: QuickState,
  commit: () => void,
  firewall: (family: Family, table: number) => Promise<void>,
): Promise<void> {
  const mode = tableMode(state.table);
  if (mode === 'off') return;
  for (const cidr of await sortedAllowedIPs(iface)) {
    if (mode === 'auto' && cidr.endsWith('/0')) {
      await addDefault(runner, iface, familyOf(cidr), cidr, state, commit, firewall);
      commit();
    } else if (await addRoute(runner, iface, cidr, state)) commit();
  }
}

/**
 * add_route for one allowed IP other than the automatic table's `/0`: into the custom table,
 * or into the main one unless a route for it through `iface` is there already. Records what
 * it added; false when it added nothing.
 */
export async function addRoute(
  runner: Runner,
  iface: string,
  cidr: string,
  state: QuickState,
): Promise<boolean> {
  const family = familyOf(cidr);
  if (tableMode(state.table) === 'custom') {
    if (state.routes.some((r) => r.cidr === cidr)) return false;
    await runner.cmd(['ip', `-${family}`, 'route', 'add', cidr, 'dev', iface, 'table', state.table!]);
    state.routes.push({ family, cidr, table: state.table! });
    return true;
  }
  const have = await runner.query(['ip', `-${family}`, 'route', 'show', 'dev', iface, 'match', cidr]);
  if (have.stdout.trim() !== '') return false;
  await runner.cmd(['ip', `-${family}`, 'route', 'add', cidr, 'dev', iface]);
  state.routes.push({ family, cidr });
  return true;
}

/** The device's fwmark in decimal, or undefined when off. */
async function deviceFwmark(iface: string): Promise<number | undefined> {
  const d = await getDevice(iface);
  return d.fwmark ? d.fwmark : undefined;
}

/** The first table from 51820 up with no route of either family (wg-quick's add_default). */
async function freeTable(runner: Runner): Promise<number> {
  for (let t = 51820; ; t++) {
    const v4 = await runner.query(['ip', '-4', 'route', 'show', 'table', String(t)]);
    const v6 = await runner.query(['ip', '-6', 'route', 'show', 'table', String(t)]);
    if (v4.stdout.trim() === '' && v6.stdout.trim() === '') return t;
  }
}

async function addDefault(
  runner: Runner,
  iface: string,
  family: Family,
  cidr: string,
  state: QuickState,
  commit: () => void,
  firewall: (family: Family, table: number) => Promise<void>,
): Promise<void> {
  let table = await deviceFwmark(iface);
  if (table === undefined) {
    table = await freeTable(runner);
    await runner.check();
    runner.trace(`wgm set ${iface} fwmark ${table}`);
    await setDevice(iface, newDevice({ fwmark: table }));
  }
  state.defaultRoute ??= { table, families: [] };
  state.defaultRoute.table = table;
  if (!state.defaultRoute.families.includes(family)) state.defaultRoute.families.push(family);
  commit();
  const t = String(table);
  const p = `-${family}`;
  await runner.cmd(['ip', p, 'route', 'add', cidr, 'dev', iface, 'table', t]);
  state.routes.push({ family, cidr, table: t });
  commit();
  await runner.cmd(['ip', p, 'rule', 'add', 'not', 'fwmark', t, 'table', t]);
  await runner.cmd(['ip', p, 'rule', 'add', 'table', 'main', 'suppress_prefixlength', '0']);
  await firewall(family, table);
}

/** The policy-rule half of del_if: delete while `ip rule show` still lists them. */
export async function deleteRules(runner: Runner, table: number): Promise<void> {
  for (const family of [4, 6] as const) {
    const p = `-${family}`;
    for (let i = 0; i < 1000; i++) {
      const r = await runner.query(['ip', p, 'rule', 'show']);
      if (!r.stdout.includes(`lookup ${table}`)) break;
      await runner.cmdIgnore(['ip', p, 'rule', 'delete', 'table', String(table)]);
    }
    for (let i = 0; i < 1000; i++) {
      const r = await runner.query(['ip', p, 'rule', 'show']);
      if (!r.stdout.includes('from all lookup main suppress_prefixlength 0')) break;
      await runner.cmdIgnore(['ip', p, 'rule', 'delete', 'table', 'main', 'suppress_prefixlength', '0']);
    }
  }
}

/** Whether the device has a `/0` allowed IP and a fwmark (del_if's condition), and which. */
export async function defaultRouteTable(iface: string): Promise<number | undefined> {
  try {
    const d = await getDevice(iface);
    if (!d.fwmark) return undefined;
    const any0 = d.peers.some((p) => p.allowedIPs.some((a) => a.cidr === 0));
    return any0 ? d.fwmark : undefined;
  } catch {
    return undefined;
  }
}
