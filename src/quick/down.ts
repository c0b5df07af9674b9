// `wgm down CONFIG_FILE|INTERFACE`: wg-quick's cmd_down (wireguard-tools
// src/wg-quick/linux.bash): PreDown hooks, SaveConfig, the policy rules of the default-route
// case, the link, DNS, the firewall marks, PostDown hooks. When `up` left a record
// (under /run/wgm, state.ts), that record says what to undo (its hooks, DNS name, table,
// daemon), so a config edited while the interface ran does not change what is removed; without
// one (an interface brought up by wg-quick or by hand) wgm does what wg-quick does, from the
// config file and the device. A userspace daemon is then waited for and its socket removed.

import { listDevices } from '../backend/backend.js';
import { socketOwners } from '../backend/probe.js';
import { WgError } from '../model/errors.js';
import { resolvconfPrefix, unsetDns } from './dns.js';
import { removeFirewall } from './firewall.js';
import { runHooks } from './hooks.js';
import { defaultRouteTable, deleteRules, ifindexOf, tableMode } from './net.js';
import { Runner, type RunnerIo } from './run.js';
import { loadState, type QuickState, removeState } from './state.js';
import { stopDaemon } from './teardown.js';
import { loadQuick, requireRoot } from './up.js';

export interface DownDeps {
  report(e: unknown): void;
  /** SaveConfig: writes the running state back to the config file (src/quick/save.ts). */
  saveConfig: (iface: string, configFile: string, runner: Runner) => Promise<void>;
}

export async function down(arg: string, io: RunnerIo, deps: DownDeps): Promise<number> {
  requireRoot('down');
  const q = loadQuick(arg, io);
  const { iface } = q;
  const runner = new Runner(io);
  if (!(await listDevices()).includes(iface)) {
    // The link is gone but `up` left a record: its daemon crashed or someone deleted the link.
    // Undo what outlives the link (rules, DNS, firewall, the record), where wg-quick stops.
    const orphan = loadState(iface);
    if (orphan && (await ifindexOf(runner, iface)) === undefined)
      return cleanupAfterCrash(runner, orphan, deps);
    throw new WgError('quick', `\`${iface}' is not a WireGuard interface`);
  }
  let state = loadState(iface);
  if (state?.ifindex !== undefined && state.ifindex !== (await ifindexOf(runner, iface))) state = undefined;
  const hooks = { iface, configFile: q.path, program: 'wgm' };
  try {
    await runHooks(runner, state?.preDown ?? q.cfg.preDown, hooks);
    if (state?.saveConfig ?? q.cfg.saveConfig) await deps.saveConfig(iface, q.path, runner);
    const table = state
      ? state.defaultRoute?.table
      : tableMode(q.cfg.table) === 'auto'
        ? await defaultRouteTable(iface)
        : undefined;
    if (table !== undefined) await deleteRules(runner, table);
    // Without a record, a daemon behind the interface's socket is still waited for below.
    const owner = state ? undefined : socketOwners().get(iface);
    await runner.cmd(['ip', 'link', 'delete', 'dev', iface]);
    const dns: QuickState['dns'] = state
      ? state.dns
      : q.cfg.dns.length > 0
        ? { method: 'resolvconf', name: `${resolvconfPrefix()}${iface}`, servers: q.cfg.dns, search: [] }
        : undefined;
    if (dns) await unsetDns(runner, dns);
    await removeFirewall(runner, iface);
    if (state) await stopDaemon(state);
    else if (owner)
      await stopDaemon({
        version: 1,
        iface,
        configFile: q.path,
        backend: { kind: 'userspace', pid: owner.pid },
        addresses: [],
        routes: [],
        preDown: [],
        postDown: [],
        saveConfig: false,
      });
    removeState(iface);
    await runHooks(runner, state?.postDown ?? q.cfg.postDown, hooks);
    return 0;
  } catch (e) {
    if (!(e instanceof WgError)) throw e;
    deps.report(e);
    return e.exitCode;
  }
}

/**
 * `down` of an interface whose link is already gone (its daemon died, or `ip link delete`):
 * addresses and routes went with the link; the policy rules, DNS record, firewall rules, a
 * stale UAPI socket and the record itself did not. PreDown hooks and SaveConfig need the
 * interface and are skipped; PostDown hooks run, since they undo what PostUp set up.
 */
async function cleanupAfterCrash(runner: Runner, state: QuickState, deps: DownDeps): Promise<number> {
  const { iface } = state;
  runner.note(`${iface} is gone already (its daemon ended?): undoing what wgm up recorded`);
  try {
    if (state.defaultRoute?.table !== undefined) await deleteRules(runner, state.defaultRoute.table);
    if (state.dns) await unsetDns(runner, state.dns);
    await removeFirewall(runner, iface);
    await stopDaemon(state);
    removeState(iface);
    await runHooks(runner, state.postDown, { iface, configFile: state.configFile, program: 'wgm' });
    return 0;
  } catch (e) {
    if (!(e instanceof WgError)) throw e;
    deps.report(e);
    return e.exitCode;
  }
}
