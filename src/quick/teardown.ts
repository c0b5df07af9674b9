// Undoing what `up` did, from its record (state.ts): on a failed or interrupted `up`, and as the
// core of `down`. Addresses and routes go with the link; the policy rules, DNS and firewall do
// not, and a userspace daemon is waited for (it exits when its link is deleted) and stopped if
// it does not, its UAPI socket removed.

import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { isUserspace, socketPath } from '../backend/uapi.js';
import { unsetDns } from './dns.js';
import { removeFirewall } from './firewall.js';
import { deleteRules, linkExists } from './net.js';
import type { Runner } from './run.js';
import type { QuickState } from './state.js';

/** The rollback of a failed `up`, in wg-quick's del_if order: DNS, firewall, rules, link. */
export async function rollback(runner: Runner, state: QuickState, linkCreated: boolean): Promise<void> {
  if (state.dns) await unsetDns(runner, state.dns);
  if (state.firewall) await removeFirewall(runner, state.iface);
  if (state.defaultRoute) await deleteRules(runner, state.defaultRoute.table);
  if (linkCreated && (await linkExists(runner, state.iface)))
    await runner.cmdIgnore(['ip', 'link', 'delete', 'dev', state.iface]);
  await stopDaemon(state);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function running(pid: number, iface: string): boolean {
  try {
    // The pid is ours only while its command line still names the interface.
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(iface);
  } catch {
    return false;
  }
}

/**
 * After the link is gone: the daemon should exit by itself (the contract wg-quick relies on:
 * wireguard-go and wgm-engine both watch their link). Give it 5 s, then SIGTERM, then SIGKILL,
 * and remove a socket nobody answers on.
 */
export async function stopDaemon(state: QuickState): Promise<void> {
  const pid = state.backend.pid;
  if (state.backend.kind !== 'userspace') return;
  if (pid !== undefined) {
    const steps: (NodeJS.Signals | undefined)[] = [undefined, 'SIGTERM', 'SIGKILL'];
    for (const sig of steps) {
      if (sig && running(pid, state.iface)) {
        try {
          process.kill(pid, sig);
        } catch {}
      }
      for (let i = 0; i < 50 && running(pid, state.iface); i++) await sleep(100);
      if (!running(pid, state.iface)) break;
    }
  }
  const path = socketPath(state.iface);
  for (let i = 0; i < 30 && existsSync(path); i++) await sleep(100);
  // isUserspace removes a socket that refuses connections; one nobody owns any more goes too.
  if (existsSync(path) && !(await isUserspace(state.iface))) return;
  if (existsSync(path) && pid !== undefined && !running(pid, state.iface)) {
    try {
      unlinkSync(path);
    } catch {}
  }
}
