// Counting and listing the results of a test run (test/runner/main.ts): per file, the events
// test/runner/reporter.ts wrote and how the file's process ended; for the run, the counts and
// the lists a reader needs (each skip's reason, each failure, each file that timed out), ending
// with a plain `N passed, N failed, N skipped` line.

import type { TestEvent } from './reporter.js';

export interface FileResult {
  /** The file as shown to the reader (relative to the tests' directory). */
  file: string;
  events: TestEvent[];
  /** How its node process ended: an exit status, or the bound that killed it. */
  end: Exited | TimedOut;
  /** What the kill cleaned up, for a file that timed out. */
  reaped?: { pids: number[]; survivors: number[]; netns: string[] };
}

export interface Totals {
  files: number;
  passed: number;
  /** Failed tests, plus one for each file that timed out, crashed outside a test or did not run. */
  failed: number;
  /** Of `failed`, those that are files rather than tests. */
  failedFiles: number;
  skipped: number;
  todo: number;
  timedOut: number;
  notRun: number;
}

export interface Summary {
  totals: Totals;
  lines: string[];
}

type Exited = { status: number | null; signal?: string | null };
type TimedOut = { timedOut: 'file' | 'total'; afterS: number };

function timedOut(end: Exited | TimedOut): end is TimedOut {
  return 'timedOut' in end;
}

/**
 * A test that failed on its own account: a parent that failed only because a subtest did is
 * not counted again, nor is a describe() block.
 */
function ownFailure(e: TestEvent): boolean {
  return !e.ok && !e.suite && e.failureType !== 'subtestsFailed';
}

/** `notRun`: files never started because the overall bound had passed. */
export function summarize(results: FileResult[], notRun: string[]): Summary {
  const t: Totals = {
    files: results.length,
    passed: 0,
    failed: 0,
    failedFiles: 0,
    skipped: 0,
    todo: 0,
    timedOut: 0,
    notRun: notRun.length,
  };
  const skips: string[] = [];
  const todos: string[] = [];
  const failures: string[] = [];
  const kills: string[] = [];
  for (const r of results) {
    let failedHere = 0;
    for (const e of r.events) {
      if (e.suite && e.ok) continue;
      const where = `${r.file} › ${e.name}`;
      if (e.skip !== undefined) {
        t.skipped++;
        skips.push(`${where}: ${e.skip || '(no reason given)'}`);
      } else if (e.todo !== undefined) {
        t.todo++;
        todos.push(`${where}: ${e.todo || '(no reason given)'}`);
      } else if (e.ok) t.passed++;
      else if (ownFailure(e)) {
        failedHere++;
        failures.push(`${where}: ${e.message ?? e.failureType ?? 'failed'}`);
      }
    }
    const end = r.end;
    if (timedOut(end)) {
      t.timedOut++;
      t.failedFiles++;
      const bound = end.timedOut === 'file' ? 'the per-file bound' : 'the overall bound';
      const rp = r.reaped;
      const what = rp
        ? `; killed ${rp.pids.length} process(es)` +
          (rp.netns.length ? `, deleted namespace(s) ${rp.netns.join(' ')}` : '') +
          (rp.survivors.length ? `; STILL RUNNING: ${rp.survivors.join(' ')}` : '')
        : '';
      kills.push(`${r.file}: killed after ${end.afterS} s (${bound})${what}`);
      failures.push(`${r.file}: timed out`);
    } else if (end.status !== 0 && failedHere === 0) {
      // A crash outside any test, or a signal: node reported no failing test.
      t.failedFiles++;
      const how = end.signal ? `signal ${end.signal}` : `status ${end.status}`;
      failures.push(`${r.file}: its process ended with ${how} and no failing test was reported`);
    }
    t.failed += failedHere;
  }
  for (const f of notRun) failures.push(`${f}: not run (the overall bound had passed)`);
  t.failedFiles += notRun.length;
  const failedTests = t.failed;
  t.failed += t.failedFiles;

  const lines: string[] = ['', '── test summary ──'];
  const list = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push(`${title} (${items.length}):`);
    for (const i of items) lines.push(`  ${i}`);
  };
  list('skipped', skips);
  list('todo', todos);
  list('timed out', kills);
  list('failed', failures);
  const ran = t.passed + failedTests + t.skipped + t.todo;
  lines.push(
    `files ${t.files + t.notRun}: ${t.timedOut} timed out, ${t.notRun} not run, ` +
      `${t.failedFiles - t.timedOut - t.notRun} ended badly outside a test`,
    `tests ${ran} ran: ${t.passed} passed, ${failedTests} failed, ${t.skipped} skipped, ${t.todo} todo`,
  );
  lines.push(`${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
  return { totals: t, lines };
}
