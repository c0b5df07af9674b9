// Runs inside the test VM (node <build>/test/vm/cli-guest.js <mode> JOBS.json OUT.json) for
// test/interop/kernel-cli.test.ts: runs stock wg and the wgm CLI on the guest's kernel
// WireGuard devices and writes what both printed as JSON, for the host to compare.
//
//   forms JOBS OUT   [{args, env}]: wgm once, and wg before, every 0.3 s during and after
//                    wgm's run (wgm takes 2-4 s under TCG, so "the same second" is impossible;
//                    instead every distinct wg output seen meanwhile is kept, and wgm's must
//                    be one of them)
//   twins JOBS OUT   [{name, x, y, base?, wg, wgm}]: fresh devices x and y (down, so equal
//                    listen ports do not clash), `base` applied to both with wg setconf, then
//                    the wg argv on x and the wgm argv on y; `wg showconf` of y before the
//                    change and of both after it
// Every child has a timeout, so every loop here ends.

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { WGM } from '../lib/run.js';

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface FormJob {
  args: string[];
  env: Record<string, string>;
}

export interface FormResult extends FormJob {
  wgm: Ran;
  /** Distinct outputs of wg (stdout, stderr, status) in the order first seen. */
  wg: Ran[];
}

export interface TwinJob {
  name: string;
  x: string;
  y: string;
  base?: string;
  wg: string[];
  wgm: string[];
  /** For a config file wgm rejects: the line its error names. */
  errorLine?: number;
}

export interface TwinResult extends TwinJob {
  wgResult: Ran;
  wgmResult: Ran;
  yBefore: Ran;
  xAfter: Ran;
  yAfter: Ran;
}

const CHILD_TIMEOUT_MS = 60_000;
/** Pause between wg runs while wgm runs: well under a second, so no "ago" value is skipped. */
const SAMPLE_MS = 300;

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: CHILD_TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', (e) => err.push(Buffer.from(`spawn ${cmd}: ${e.message}\n`)));
    p.on('close', (status, signal) => {
      const tail = signal ? `[killed by ${signal}]` : '';
      resolve({
        status,
        stdout: Buffer.concat(out).toString('latin1'),
        stderr: Buffer.concat(err).toString('latin1') + tail,
        ms: Date.now() - t0,
      });
    });
  });
}

function runSync(cmd: string, args: string[]): Ran {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { timeout: CHILD_TIMEOUT_MS });
  return {
    status: r.status,
    stdout: r.stdout?.toString('latin1') ?? '',
    stderr: (r.stderr?.toString('latin1') ?? '') + (r.error ? `${r.error.message}\n` : ''),
    ms: Date.now() - t0,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function form(job: FormJob): Promise<FormResult> {
  const env = { ...process.env, ...job.env };
  const seen = new Map<string, Ran>();
  const add = (r: Ran) => {
    const k = JSON.stringify([r.status, r.stdout, r.stderr]);
    if (!seen.has(k)) seen.set(k, r);
  };
  add(await runChild('wg', job.args, env));
  let done = false;
  const ours = runChild(process.execPath, [WGM, ...job.args], env).finally(() => {
    done = true;
  });
  while (!done) {
    add(await runChild('wg', job.args, env));
    await sleep(SAMPLE_MS);
  }
  add(await runChild('wg', job.args, env));
  return { ...job, wgm: await ours, wg: [...seen.values()] };
}

function must(r: Ran, what: string): void {
  if (r.status !== 0) throw new Error(`${what}: status ${r.status}: ${r.stderr}`);
}

async function twin(job: TwinJob): Promise<TwinResult> {
  for (const d of [job.x, job.y]) {
    must(runSync('ip', ['link', 'add', d, 'type', 'wireguard']), `ip link add ${d}`);
    if (job.base) must(runSync('wg', ['setconf', d, job.base]), `wg setconf ${d} (base)`);
  }
  const yBefore = runSync('wg', ['showconf', job.y]);
  const wgResult = await runChild('wg', job.wg, process.env);
  const wgmResult = await runChild(process.execPath, [WGM, ...job.wgm], process.env);
  const xAfter = runSync('wg', ['showconf', job.x]);
  const yAfter = runSync('wg', ['showconf', job.y]);
  return { ...job, wgResult, wgmResult, yBefore, xAfter, yAfter };
}

async function main(): Promise<void> {
  const [mode, jobsFile, outFile] = process.argv.slice(2);
  if (!jobsFile || !outFile) throw new Error('usage: cli-guest.js forms|twins JOBS.json OUT.json');
  const jobs: unknown[] = JSON.parse(readFileSync(jobsFile, 'utf8'));
  const results: unknown[] = [];
  for (const job of jobs) {
    if (mode === 'forms') results.push(await form(job as FormJob));
    else if (mode === 'twins') results.push(await twin(job as TwinJob));
    else throw new Error(`unknown mode ${mode}`);
  }
  writeFileSync(outFile, `${JSON.stringify(results)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`cli-guest: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
