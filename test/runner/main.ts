// The test runner of `npm test` (test/run.sh): runs each *.test.js file in its own `node --test`
// process, one at a time, with node's spec output going straight through, and
//  - a bound per test (node's --test-timeout, for tests that set no timeout of their own),
//  - a bound per file: a hung file is killed with everything it started (test/runner/reap.ts),
//  - a bound for the whole run: the file running then is killed and the rest are not started;
// then prints what ran, passed, failed and was skipped (with each skip's reason), ending with a
// plain `N passed, N failed, N skipped` line. Exit status 1 when anything failed or timed out.
//
//   node dist/test/runner/main.js [--test-timeout S] [--file-timeout S] [--total-timeout S] PATH...
//
// PATH is a *.test.js file or a directory searched for them. The bounds default to the
// environment's WGM_TEST_TIMEOUT, WGM_TEST_FILE_TIMEOUT, WGM_TEST_TOTAL_TIMEOUT (seconds), else
// 600, 1800 and 4800 (CI stops a job at 90 minutes; setup and build come first).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MARKER_VAR, namedNetns, reap } from './reap.js';
import type { TestEvent } from './reporter.js';
import { type FileResult, summarize } from './summary.js';

const REPORTER = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'reporter.js')).href;

interface Options {
  testTimeoutS: number;
  fileTimeoutS: number;
  totalTimeoutS: number;
  paths: string[];
}

function seconds(what: string, v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what}: expected a number of seconds > 0, got '${v}'`);
  return n;
}

function parseArgs(argv: string[]): Options {
  const env = process.env;
  const o: Options = {
    testTimeoutS: seconds('WGM_TEST_TIMEOUT', env['WGM_TEST_TIMEOUT'], 600),
    fileTimeoutS: seconds('WGM_TEST_FILE_TIMEOUT', env['WGM_TEST_FILE_TIMEOUT'], 1800),
    totalTimeoutS: seconds('WGM_TEST_TOTAL_TIMEOUT', env['WGM_TEST_TOTAL_TIMEOUT'], 4800),
    paths: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--(test|file|total)-timeout(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[2] ?? argv[++i];
      const s = seconds(`--${m[1]}-timeout`, v ?? '', Number.NaN);
      if (m[1] === 'test') o.testTimeoutS = s;
      else if (m[1] === 'file') o.fileTimeoutS = s;
      else o.totalTimeoutS = s;
    } else if (a.startsWith('-')) throw new Error(`unknown option '${a}'`);
    else o.paths.push(a);
  }
  if (o.paths.length === 0) throw new Error('no test files or directories given');
  return o;
}

/** The *.test.js files under `paths`, sorted (a directory holds helpers that are not tests). */
export function testFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else if (p.endsWith('.test.js')) out.push(resolve(p));
  };
  for (const p of paths) walk(p);
  return [...new Set(out)].sort();
}

function readEvents(path: string): TestEvent[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const events: TestEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      events.push(JSON.parse(line) as TestEvent);
    } catch {
      // a line cut short by a kill
    }
  }
  return events;
}

let current: { pid: number; token: string; netnsBefore: Set<string> } | undefined;
/** The run's scratch directory (the events files), removed at the end or on a signal. */
let work: string | undefined;

async function runFile(
  file: string,
  shown: string,
  o: Options,
  deadline: number,
  work: string,
  n: number,
): Promise<FileResult> {
  const eventsPath = join(work, `events-${n}.jsonl`);
  const token = `${process.pid}-${n}-${randomBytes(6).toString('hex')}`;
  const netnsBefore = new Set(namedNetns());
  const boundMs = Math.min(o.fileTimeoutS * 1000, Math.max(0, deadline - Date.now()));
  const which: 'file' | 'total' = o.fileTimeoutS * 1000 <= deadline - Date.now() ? 'file' : 'total';
  const started = Date.now();
  // A runner started from inside a test (its own tests do) must not look like one to node.
  const env: NodeJS.ProcessEnv = { ...process.env, [MARKER_VAR]: token };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      `--test-timeout=${Math.round(o.testTimeoutS * 1000)}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${REPORTER}`,
      `--test-reporter-destination=${eventsPath}`,
      file,
    ],
    { detached: true, stdio: ['ignore', 'inherit', 'inherit'], env },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start node for ${shown}`);
  current = { pid, token, netnsBefore };
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<{ status: number | null; signal: string | null }>((res) =>
    child.on('close', (status, signal) => res({ status, signal })),
  );
  const bound = new Promise<'timeout'>((res) => {
    timer = setTimeout(() => res('timeout'), boundMs);
  });
  const first = await Promise.race([ended, bound]);
  clearTimeout(timer);
  let result: FileResult;
  if (first === 'timeout') {
    const afterS = Math.round((Date.now() - started) / 1000);
    console.log(
      `\n✖ ${shown}: still running after ${afterS} s (the ${which === 'file' ? 'per-file' : 'overall'} bound); killing it`,
    );
    const reaped = await reap(pid, token, netnsBefore);
    await Promise.race([ended, new Promise((r) => setTimeout(r, 5000))]);
    result = { file: shown, events: readEvents(eventsPath), end: { timedOut: which, afterS }, reaped };
  } else {
    result = { file: shown, events: readEvents(eventsPath), end: first };
  }
  current = undefined;
  return result;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const files = testFiles(o.paths);
  const deadline = Date.now() + o.totalTimeoutS * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'wgm-testrun-'));
  work = dir;
  const results: FileResult[] = [];
  const notRun: string[] = [];
  console.log(
    `test runner: ${files.length} file(s); bounds: ${o.testTimeoutS} s per test, ` +
      `${o.fileTimeoutS} s per file, ${o.totalTimeoutS} s in all`,
  );
  try {
    for (const [i, file] of files.entries()) {
      const shown = relative(process.cwd(), file);
      if (Date.now() >= deadline) {
        notRun.push(shown);
        continue;
      }
      console.log(`\n▶ [${i + 1}/${files.length}] ${shown}`);
      results.push(await runFile(file, shown, o, deadline, dir, i));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const s = summarize(results, notRun);
  for (const line of s.lines) console.log(line);
  return s.totals.failed > 0 ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    const c = current;
    console.log(`\ntest runner: ${sig}; stopping`);
    const done = () => {
      if (work) rmSync(work, { recursive: true, force: true });
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    };
    if (c) reap(c.pid, c.token, c.netnsBefore).then(done, done);
    else done();
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`test runner: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  },
);
