// Differential harness for set/setconf/addconf/syncconf: stock `wg` and `wgm` each talk to their own
// fake UAPI server (test/lib/fake-uapi.ts), and the tests compare what the servers recorded, byte
// for byte, plus stdout, stderr and the exit status. The servers live in this process, so the
// commands run asynchronously (spawnSync would block the servers' event loop).

import { type FakeUapi, type FakeUapiOptions, runAsync, startFakeUapi } from '../../lib/fake-uapi.js';
import { type RunResult, WGM } from '../../lib/run.js';
import { hideLike } from '../config/wg-oracle.js';

export { runAsync };

export function wgmAsync(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  return runAsync(process.execPath, [WGM, ...args], opts);
}

export interface Pair {
  wg: FakeUapi;
  ours: FakeUapi;
  close(): Promise<void>;
  /** Forgets what both servers recorded. */
  reset(): void;
}

/** Two fake servers with the same behaviour; names are unique per process (≤ 15 chars). */
export async function startPair(tag: string, options: FakeUapiOptions = {}): Promise<Pair> {
  const base = `${tag}${process.pid % 100000}`;
  const wg = await startFakeUapi(`${base}w`, { ...options });
  const ours = await startFakeUapi(`${base}m`, { ...options });
  return {
    wg,
    ours,
    reset: () => {
      wg.requests.length = 0;
      ours.requests.length = 0;
    },
    close: async () => {
      await wg.close();
      await ours.close();
    },
  };
}

export interface Outcome {
  wg: RunResult;
  ours: RunResult;
  wgSets: string[];
  oursSets: string[];
}

/**
 * Runs `wg <args(wgName)>` and `wgm <args(oursName)>` side by side. Only the `set` requests are
 * compared by the tests: the socket directory is shared by every process on the host, and any
 * `wg show` listing interfaces meanwhile sends its own `get` to these servers.
 */
export async function diffRun(
  pair: Pair,
  args: (iface: string) => string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Outcome> {
  pair.reset();
  const [wg, ours] = await Promise.all([
    runAsync('wg', args(pair.wg.name), { env }),
    wgmAsync(args(pair.ours.name), { env }),
  ]);
  return { wg, ours, wgSets: pair.wg.sets(), oursSets: pair.ours.sets() };
}

/**
 * wgm's stderr in wg's terms: the program name in usage lines, and without the `file:line: `
 * prefix wgm puts before messages about a line of `files`.
 */
export function asWgStderr(stderr: string, files: string[] = []): string {
  let s = stderr.replace(/^Usage: wgm /gm, 'Usage: wg ');
  for (const f of files) {
    const esc = f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    s = s.replace(new RegExp(`^${esc}:\\d+: `, 'gm'), '');
  }
  return s;
}

/**
 * wg's stderr as wgm is meant to print it: wgm never quotes a private or preshared key where wg
 * does (it prints `(hidden, N characters)`); that one substitution is forgiven, nothing else.
 */
export function expectedStderr(wgStderr: string, oursAsWg: string): string {
  return hideLike(wgStderr, oursAsWg);
}

export const TEST_ENV: NodeJS.ProcessEnv = { ...process.env, WG_ENDPOINT_RESOLUTION_RETRIES: '0' };

/** Runs `fn` over `items` with `workers` of them in flight; each worker gets its own index. */
export async function pool<T>(
  items: readonly T[],
  workers: number,
  fn: (item: T, worker: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, items.length) }, async (_, w) => {
      while (next < items.length) await fn(items[next++]!, w);
    }),
  );
}

/** Parallel workers for the differential corpora: the commands mostly wait for node to start. */
export const WORKERS = 3;
