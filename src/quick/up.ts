// `wgm up CONFIG_FILE|INTERFACE`: what wg-quick's cmd_up does on Linux, in its order
// (wireguard-tools src/wg-quick/linux.bash, installed 2021 version): PreUp hooks, create the
// link, apply the WireGuard part of the config, addresses, MTU and link up, DNS, a route for
// every allowed IP (with the fwmark, policy rules and firewall marks of the default-route
// case), PostUp hooks. Differences:
// - the backend is chosen first (backend-choice.ts) and said in one `[!]` line; a config with
//   several endpoints per peer goes to wgm-engine, which holds them all;
// - the WireGuard part is checked before anything changes, so a syntax error changes nothing;
// - any failure or signal undoes everything done so far (DNS, firewall, rules, link, daemon),
//   where wg-quick's trap deletes the link and what it remembers of DNS and firewall;
// - what was done is recorded under /run/wgm (state.ts) for `down` and `reload`.

import { fileURLToPath } from 'node:url';
import { socketOwners } from '../backend/probe.js';
import { type MultiPeer, multiEndpointPeers } from '../config/multi.js';
import { type PeerOption, parsePeerOptions } from '../config/peer-options.js';
import { parseQuickConfig, type QuickConfig } from '../config/quick.js';
import { isWgError, WgError } from '../model/errors.js';
import {
  type BackendMode,
  backendMode,
  describeMulti,
  kernelCannotHold,
  userspace,
} from './backend-choice.js';
import { setDns } from './dns.js';
import { addFirewall } from './firewall.js';
import { runHooks } from './hooks.js';
import { addAddress, addRoutes, ifindexOf, linkExists, setMtuUp } from './net.js';
import { readQuickFile, resolveQuickTarget } from './paths.js';
import { Runner, type RunnerIo } from './run.js';
import { type QuickState, removeState, saveState } from './state.js';
import { rollback } from './teardown.js';

/** The bundled engine, next to this build's wgm (dist/src/bin/wgm-engine.js). */
export const ENGINE_SCRIPT = fileURLToPath(new URL('../bin/wgm-engine.js', import.meta.url));

export interface QuickDeps {
  /**
   * Applies WireGuard config text (setconf or syncconf) through the backend; throws WgError.
   * `fwmark`: the mark to keep when the text has no FwMark (reload of a default-route config).
   */
  applyConfig(
    verb: 'setconf' | 'syncconf',
    iface: string,
    text: string,
    file: string,
    opts?: { fwmark?: number; peerOptions?: PeerOption[] },
  ): Promise<void>;
  /** Prints an error as the CLI does. */
  report(e: unknown): void;
}

export interface Loaded {
  iface: string;
  path: string;
  cfg: QuickConfig;
  /** The WireGuard part as text, consumed lines left empty (line numbers are the file's). */
  wgText: string;
  /** wgm's [Peer] keys, checked. */
  peerOptions: PeerOption[];
}

/** Path rules, the world-accessible warning, and both parsers; throws what wg-quick dies of. */
export function loadQuick(arg: string, io: RunnerIo): Loaded {
  const target = resolveQuickTarget(arg);
  if (target.warning) io.err(`${target.warning}\n`);
  const file = readQuickFile(target.path);
  if (file.readError) io.err(`wgm: ${file.readError}\n`);
  const cfg = parseQuickConfig(file.bytes);
  const peerOptions = parsePeerOptions(cfg.peerOptions, target.path);
  return {
    iface: target.iface,
    path: target.path,
    cfg,
    wgText: cfg.wgConfigPadded.toString('utf8'),
    peerOptions,
  };
}

export function requireRoot(verb: string): void {
  if (process.getuid?.() !== 0)
    throw new WgError('quick', `\`${verb}' must be run as root (wg-quick would re-run itself through sudo)`);
}

export async function up(arg: string, io: RunnerIo, deps: QuickDeps): Promise<number> {
  requireRoot('up');
  const q = loadQuick(arg, io);
  const { iface } = q;
  const runner = new Runner(io);
  if (await linkExists(runner, iface)) throw new WgError('quick', `\`${iface}' already exists`);
  const mode = backendMode(io.env);
  const multi = multiEndpointPeers(q.wgText, q.path);
  if (mode === 'kernel' && multi.length > 0) throw kernelCannotHold(multi);

  const state: QuickState = {
    version: 1,
    iface,
    configFile: q.path,
    backend: { kind: 'kernel' },
    addresses: [],
    routes: [],
    preDown: q.cfg.preDown,
    postDown: q.cfg.postDown,
    saveConfig: q.cfg.saveConfig,
  };
  if (q.cfg.table !== undefined) state.table = q.cfg.table;
  if (q.cfg.mtu !== undefined) state.mtu = q.cfg.mtu;
  let linkCreated = false;
  const commit = () => {
    if (linkCreated) saveState(state);
  };
  runner.arm();
  try {
    await runHooks(runner, q.cfg.preUp, { iface, configFile: q.path, program: 'wgm' });
    // From here on a link of this name is ours: it did not exist a moment ago.
    linkCreated = true;
    await createLink(runner, iface, mode, multi, state);
    state.ifindex = await ifindexOf(runner, iface);
    commit();
    await runner.check();
    runner.trace(`wgm setconf ${iface} /dev/fd/63`);
    await deps.applyConfig('setconf', iface, q.wgText, q.path, { peerOptions: q.peerOptions });
    for (const a of q.cfg.addresses) {
      await addAddress(runner, iface, a);
      state.addresses.push(a);
      commit();
    }
    await setMtuUp(runner, iface, q.cfg.mtu);
    await setDns(runner, iface, q.cfg.dns, q.cfg.dnsSearch, state, commit);
    await addRoutes(runner, iface, state, commit, async (family, table) => {
      state.firewall = (await addFirewall(runner, iface, family, table)) ?? state.firewall;
      commit();
    });
    await runHooks(runner, q.cfg.postUp, { iface, configFile: q.path, program: 'wgm' });
    commit();
    return 0;
  } catch (e) {
    if (!isWgError(e)) throw e;
    if (e.message !== '') deps.report(e);
    await rollback(runner, state, linkCreated);
    removeState(iface);
    return e.exitCode;
  } finally {
    runner.disarm();
  }
}

/** Creates the link on the chosen backend (the kernel's, or a userspace daemon's). */
async function createLink(
  runner: Runner,
  iface: string,
  mode: BackendMode,
  multi: MultiPeer[],
  state: QuickState,
): Promise<void> {
  const linkAdd = ['ip', 'link', 'add', iface, 'type', 'wireguard'];
  if (mode === 'kernel') {
    runner.note('Backend: kernel WireGuard (WGM_BACKEND=kernel)');
    await runner.cmd(linkAdd);
    return;
  }
  let why: string;
  if (mode === 'engine') why = 'WGM_BACKEND=engine';
  else if (multi.length > 0) why = `${describeMulti(multi)}; kernel WireGuard holds one per peer`;
  else {
    // Tried quietly: its failure is the reason for userspace, not an error.
    await runner.check();
    const r = await runner.query(linkAdd);
    if (r.status === 0) {
      runner.note('Backend: kernel WireGuard (every peer has at most one endpoint)');
      runner.trace(linkAdd.join(' '));
      return;
    }
    why = `no kernel WireGuard: \`ip link add ${iface} type wireguard' said: ${r.stderr.trim() || `status ${r.status}`}`;
  }
  const us = userspace(runner.io.env, ENGINE_SCRIPT);
  runner.note(`Backend: ${us.name} (${why})`);
  state.backend = { kind: 'userspace', program: us.name };
  try {
    await runner.cmd([...us.argv, iface], { shown: `${us.name} ${iface}` });
  } finally {
    const owner = socketOwners().get(iface);
    if (owner) state.backend.pid = owner.pid;
  }
}
