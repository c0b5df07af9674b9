// A private world for one `up`/`down` run of wgm or stock wg-quick: `unshare --mount --net`
// with a tmpfs on /run (so /var/run/wireguard and /run/wgm are private), a private
// /etc/resolv.conf and a small resolvconf of our own on PATH (this host has none), loopback up
// and a dummy link carrying 192.168.50.2/24 and fd50::2/64 (the peers' endpoints live there,
// so the automatic MTU has a route to look at). The state of the namespace is captured before
// `up`, after `up` and after `down`: addresses, routes of every table, rules, iptables and
// ip6tables, resolv.conf, `wg showconf` and the UAPI sockets.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, WGM } from './run.js';

export type Tool = 'wgm' | 'wg-quick';

export interface Snapshot {
  [section: string]: string;
}

export interface StepResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface SandboxRun {
  before: Snapshot;
  afterUp: Snapshot;
  afterDown?: Snapshot;
  up: StepResult;
  down?: StepResult;
  /** What was left in the config file after down (SaveConfig rewrites it). */
  configAfter: string;
  /** Extra commands' output (`extra` option), run between up and down. */
  extra: string;
}

/** A resolvconf for the tests: -a NAME records stdin, -d NAME removes, -l lists. */
const RESOLVCONF = `#!/bin/bash
dir=/run/resolvconf/interface
mkdir -p "$dir"
case "$1" in
-a) cat >"$dir/$2" ;;
-d) rm -f "$dir/$2" ;;
-l) cat "$dir/\${2:-*}" 2>/dev/null; exit 0 ;;
*) echo "resolvconf: unsupported option $1" >&2; exit 1 ;;
esac
# Like -x: while interfaces have records, they alone make resolv.conf; then the original.
if compgen -G "$dir/*" >/dev/null; then cat "$dir"/* >/etc/resolv.conf; else cat /run/resolvconf/base >/etc/resolv.conf; fi
exit 0
`;

const SNAPSHOT = `snap() {
  echo '### addr'; ip -j addr
  echo; echo '### route'; ip -j route show table all
  echo; echo '### rule4'; ip -4 -j rule
  echo; echo '### rule6'; ip -6 -j rule
  echo; echo '### iptables'; iptables-save 2>/dev/null | grep -v '^#'
  echo '### ip6tables'; ip6tables-save 2>/dev/null | grep -v '^#'
  echo '### resolv'; cat /etc/resolv.conf
  echo '### showconf'; wg showconf "$IFACE" 2>&1
  echo '### sockets'; ls /run/wireguard 2>/dev/null
  echo '### procs'; pgrep -f -- "(wireguard-go|wgm-engine)(\\\\.js)? (-f )?$IFACE\\$" >/dev/null && echo "daemon running"
  true
}`;

export interface SandboxOptions {
  env?: NodeJS.ProcessEnv;
  /** Variables the script exports itself (for runs where the caller's environment is not passed on). */
  vars?: Record<string, string>;
  extra?: string;
  noDown?: boolean;
  /** Who runs `down` (default: the same tool). */
  downTool?: Tool;
  /** Sends SIGTERM to `up` once this file exists (a hook creates it). */
  termWhen?: string;
}

export interface PreparedSandbox {
  /** `unshare ... bash SCRIPT`: the command that runs it. */
  command: string[];
  /** Where the results are written. */
  out: string;
}

/** Writes the run's files and script under `dir/TOOL` (see sandboxRun). */
export function prepareSandbox(
  tool: Tool,
  dir: string,
  iface: string,
  config: string,
  opts: SandboxOptions = {},
): PreparedSandbox {
  const work = join(dir, tool);
  const out = join(work, 'out');
  run('mkdir', ['-p', join(work, 'bin'), out]);
  writeFileSync(join(work, 'bin', 'resolvconf'), RESOLVCONF, { mode: 0o755 });
  const conf = join(work, `${iface}.conf`);
  writeFileSync(conf, config, { mode: 0o600 });
  writeFileSync(join(work, 'resolv.conf'), 'nameserver 192.0.2.53\n');
  const command = (t: Tool) => (t === 'wgm' ? `${process.execPath} ${WGM}` : 'wg-quick');
  const cmd = command(tool);
  const downCmd = command(opts.downTool ?? tool);
  const upRun = `${cmd} up ${conf} >${out}/up.out 2>${out}/up.err`;
  const upLine =
    opts.termWhen === undefined
      ? `${upRun}; echo $? >${out}/up.rc`
      : `${upRun} & pid=$!; for i in $(seq 600); do [ -e ${opts.termWhen} ] && break; sleep 0.1; done; kill -TERM $pid; wait $pid; echo $? >${out}/up.rc`;
  const exports = Object.entries(opts.vars ?? {})
    .map(([k, v]) => `export ${k}='${v}'`)
    .join('\n');
  const script = `set -u
IFACE=${iface}
${exports}
${SNAPSHOT}
mount -t tmpfs tmpfs /run
mount --bind ${work}/resolv.conf /etc/resolv.conf
export PATH=${work}/bin:$PATH
mkdir -p /run/resolvconf && cp /etc/resolv.conf /run/resolvconf/base
ip link set lo up
ip link add dum0 type dummy
ip addr add 192.168.50.2/24 dev dum0
ip -6 addr add fd50::2/64 dev dum0 nodad
ip link set dum0 up
snap >${out}/before
${upLine}
snap >${out}/afterUp
${opts.extra ?? ''} >${out}/extra 2>&1
cp ${conf} ${out}/config
if [ "$(cat ${out}/up.rc)" = 0 ] && [ -z "${opts.noDown ? 'no' : ''}" ]; then
  ${downCmd} down ${conf} >${out}/down.out 2>${out}/down.err; echo $? >${out}/down.rc
  for i in $(seq 50); do snap | grep -q '^daemon running' || break; sleep 0.1; done
  snap >${out}/afterDown
  cp ${conf} ${out}/config
fi
`;
  writeFileSync(join(work, 'script.sh'), script);
  return {
    command: ['unshare', '--mount', '--net', '--propagation', 'private', 'bash', join(work, 'script.sh')],
    out,
  };
}

/** The result files of a run, read through `read` (undefined for a file that is not there). */
export function collectSandbox(read: (name: string) => string | undefined): SandboxRun {
  const must = (name: string) => {
    const v = read(name);
    if (v === undefined) throw new Error(`the sandbox wrote no ${name}`);
    return v;
  };
  const step = (name: string): StepResult => ({
    status: Number(must(`${name}.rc`).trim()),
    stdout: must(`${name}.out`),
    stderr: must(`${name}.err`),
  });
  const result: SandboxRun = {
    before: sections(must('before')),
    afterUp: sections(must('afterUp')),
    up: step('up'),
    configAfter: must('config'),
    extra: read('extra') ?? '',
  };
  const afterDown = read('afterDown');
  if (afterDown !== undefined) {
    result.afterDown = sections(afterDown);
    result.down = step('down');
  }
  return result;
}

/** The files of a run, in the order collectSandbox reads them (for printing them from a VM). */
export const SANDBOX_FILES = [
  'before',
  'afterUp',
  'afterDown',
  'up.rc',
  'up.out',
  'up.err',
  'down.rc',
  'down.out',
  'down.err',
  'config',
  'extra',
];

/**
 * Runs `TOOL up CONF`, then (unless `noDown`, or up failed) `TOOL down CONF`, in a fresh
 * sandbox. `dir` is a scratch directory of the caller's.
 */
export function sandboxRun(
  tool: Tool,
  dir: string,
  iface: string,
  config: string,
  opts: SandboxOptions = {},
): SandboxRun {
  const p = prepareSandbox(tool, dir, iface, config, opts);
  const env = { ...process.env, ...opts.env };
  const r = run(p.command[0]!, p.command.slice(1), { env, timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`sandbox script failed (${r.status}): ${r.stderr}`);
  return collectSandbox((name) => {
    const path = join(p.out, name);
    return existsSync(path) ? readFileSync(path, 'latin1') : undefined;
  });
}

function sections(text: string): Snapshot {
  const out: Snapshot = {};
  let cur = '';
  for (const line of text.split('\n')) {
    const m = /^### (\w+)$/.exec(line);
    if (m) {
      cur = m[1]!;
      out[cur] = '';
    } else if (cur) out[cur] += `${line}\n`;
  }
  return out;
}
