// Running commands from tests: wgm itself and the stock tools it is compared with.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The build these tests were compiled into (dist/, or a private .build/NAME/ while developing). */
export const BUILD = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function findRoot(dir: string): string {
  for (let d = dir; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'package.json'))) return d;
  throw new Error(`no package.json above ${dir}`);
}

/** The project root: sources, fixtures, vectors. */
export const ROOT = findRoot(BUILD);
export const WGM = join(BUILD, 'src/bin/wgm.js');
export const WGM_ENGINE = join(BUILD, 'src/bin/wgm-engine.js');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout.toString('latin1'),
    stderr: r.stderr.toString('latin1'),
    stdoutBytes: r.stdout,
  };
}

export function wgm(args: string[], opts: RunOptions = {}): RunResult {
  return run(process.execPath, [WGM, ...args], opts);
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const p = join(dir || '.', cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export const isRoot = process.getuid?.() === 0;
const inCI = process.env['CI'] === 'true';

/**
 * Skips the test with a plain reason when a requirement is missing. In CI (root, packages
 * installed by the test command) a missing requirement is a failure, not a skip.
 */
export function need(t: TestContext, req: { root?: boolean; commands?: string[] }): boolean {
  const missing: string[] = [];
  if (req.root && !isRoot) missing.push('root');
  for (const c of req.commands ?? []) if (!which(c)) missing.push(`\`${c}'`);
  if (missing.length === 0) return true;
  const reason = `needs ${missing.join(', ')}`;
  if (inCI) throw new Error(`${reason}, which CI must have (test/setup-system.sh installs it)`);
  t.skip(reason);
  return false;
}
