// Ending a test file's run for good (test/runner/main.ts): every process it started, and the
// network namespaces it left. A process group is not enough: wireguard-go and wgm-engine may
// run detached, `timeout` (which runs QEMU in test/vm/run-in-vm.sh) puts itself in a group of
// its own, and a daemon whose parent died is reparented away from the tree. So the runner
// marks the file's environment with a token that every descendant inherits, and this module
// finds processes by that token in /proc/PID/environ as well as by walking parent links.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/** The environment variable that marks every process of one test file's run. */
export const MARKER_VAR = 'WGM_TEST_RUN';
const NETNS_DIR = '/run/netns';

function pids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

function parentOf(pid: number): number | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces or parentheses, so cut after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

function marked(pid: number, token: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${MARKER_VAR}=${token}`);
  } catch {
    return false;
  }
}

/** The processes of a run: `root`, its descendants, and every process carrying `token`. */
export function runProcesses(root: number, token: string): number[] {
  const all = pids().filter((p) => p !== process.pid);
  const children = new Map<number, number[]>();
  for (const p of all) {
    const pp = parentOf(p);
    if (pp !== undefined) children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const found = new Set<number>();
  const walk = (p: number) => {
    if (found.has(p)) return;
    found.add(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  if (all.includes(root)) walk(root);
  for (const p of all) if (marked(p, token)) walk(p);
  return [...found].sort((a, b) => a - b);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function netInode(pid: number): number | undefined {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The names in /run/netns (namespaces made by `ip netns add`). */
export function namedNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Reaped {
  pids: number[];
  /** Processes still there after SIGKILL (in uninterruptible sleep, say). */
  survivors: number[];
  netns: string[];
}

/**
 * Ends run `token` rooted at `root` (the leader of its own process group): SIGTERM to the
 * group and every process of the run, SIGKILL after `graceMs` to what is left (looking again,
 * for children started meanwhile). Then deletes the named namespaces that appeared during the
 * run (not in `netnsBefore`) and either held one of its processes or carry one of its pids in
 * their name (test/lib/netns.ts names them after the test process), so that another user's
 * namespaces created meanwhile stay.
 */
export async function reap(
  root: number,
  token: string,
  netnsBefore: Set<string>,
  graceMs = 10_000,
): Promise<Reaped> {
  const seen = new Set<number>();
  const inodes = new Set<number>();
  const look = () => {
    const now = runProcesses(root, token);
    for (const p of now) {
      seen.add(p);
      const ino = netInode(p);
      if (ino !== undefined) inodes.add(ino);
    }
    return now;
  };
  look();
  signal(-root, 'SIGTERM');
  for (const p of seen) signal(p, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && look().length > 0) await sleep(100);
  for (let i = 0; i < 3; i++) {
    const left = look();
    if (left.length === 0) break;
    signal(-root, 'SIGKILL');
    for (const p of left) signal(p, 'SIGKILL');
    await sleep(300);
  }
  const survivors = runProcesses(root, token);
  const pidTags = [...seen].map((p) => String(p % 100000));
  const netns: string[] = [];
  for (const name of namedNetns()) {
    if (netnsBefore.has(name)) continue;
    let ino: number | undefined;
    try {
      ino = statSync(`${NETNS_DIR}/${name}`).ino;
    } catch {
      continue;
    }
    if (!inodes.has(ino) && !pidTags.some((tag) => name.includes(tag))) continue;
    try {
      execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore', timeout: 10_000 });
      netns.push(name);
    } catch {
      // gone already, or not ours to delete
    }
  }
  return { pids: [...seen].sort((a, b) => a - b), survivors, netns };
}
