// Private network namespaces for the data-plane tests: created with `ip netns add`, entered by
// the calling thread with setns(2) just long enough to create TUN devices and sockets there
// (descriptors keep the namespace they were made in), and deleted afterwards.

import { closeSync, openSync } from 'node:fs';
import { libc } from '../../../src/sys/libc.js';
import { run } from '../../lib/run.js';

const CLONE_NEWNET = 0x40000000;
let setnsFn: ((fd: number, type: number) => number) | undefined;

function setns(fd: number): void {
  setnsFn ??= libc().func('int setns(int fd, int nstype)') as (fd: number, type: number) => number;
  if (setnsFn(fd, CLONE_NEWNET) !== 0) throw new Error('setns failed');
}

/** A unique namespace name for this test process. */
export function nsName(tag: string): string {
  return `dp${process.pid % 100000}${tag}`;
}

/** Runs `ip` (with `-n ns` when given); throws with its stderr on failure. */
export function ip(ns: string | undefined, ...args: string[]): string {
  const r = run('ip', ns ? ['-n', ns, ...args] : args, { timeoutMs: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function addNetns(name: string): void {
  ip(undefined, 'netns', 'add', name);
  ip(name, 'link', 'set', 'lo', 'up');
}

export function deleteNetns(name: string): void {
  run('ip', ['netns', 'delete', name], { timeoutMs: 10_000 });
}

/** Calls `fn` with this thread inside namespace `name`, and comes back even when it throws. */
export function inNetns<T>(name: string, fn: () => T): T {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const there = openSync(`/var/run/netns/${name}`, 'r');
  try {
    setns(there);
    try {
      return fn();
    } finally {
      setns(home);
    }
  } finally {
    closeSync(there);
    closeSync(home);
  }
}

/** Two namespaces joined by a veth pair: `a` has 192.168.X.1/24, `b` has .2. */
export function vethPair(a: string, b: string, subnet: number): { addrA: string; addrB: string } {
  const va = `${a}v`.slice(0, 15);
  const vb = `${b}v`.slice(0, 15);
  ip(undefined, 'link', 'add', va, 'netns', a, 'type', 'veth', 'peer', 'name', vb, 'netns', b);
  ip(a, 'addr', 'add', `192.168.${subnet}.1/24`, 'dev', va);
  ip(b, 'addr', 'add', `192.168.${subnet}.2/24`, 'dev', vb);
  ip(a, 'link', 'set', va, 'up');
  ip(b, 'link', 'set', vb, 'up');
  return { addrA: `192.168.${subnet}.1`, addrB: `192.168.${subnet}.2` };
}
