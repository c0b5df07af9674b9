// A node:test reporter for test/runner/main.ts: one JSON line per finished test (pass, fail,
// skip, todo), with the skip reason or the failure's first line, so the runner can count and
// list them after the file's process is gone (or killed: each line is written as it happens).
// Used as `--test-reporter=<this file> --test-reporter-destination=<events file>`; node's own
// spec reporter writes the human-readable output beside it.

export interface TestEvent {
  /** pass or fail as node reports it (a skipped or todo test is a pass). */
  ok: boolean;
  name: string;
  nesting: number;
  file?: string;
  /** A describe() block: not counted as a test. */
  suite: boolean;
  /** The skip reason ('' when none was given); absent when the test was not skipped. */
  skip?: string;
  todo?: string;
  /** For a failure: node's failure type (testCodeFailure, testTimeoutFailure, subtestsFailed…). */
  failureType?: string;
  message?: string;
}

interface NodeTestData {
  name: string;
  nesting: number;
  file?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: { type?: string; error?: { failureType?: string; message?: string; cause?: unknown } };
}

function reason(v: string | boolean | undefined): string | undefined {
  if (v === undefined || v === false) return undefined;
  return v === true ? '' : v;
}

function firstLine(err: { message?: string; cause?: unknown } | undefined): string | undefined {
  if (!err) return undefined;
  // node wraps a test's own error: the useful text is in `cause`.
  const cause = err.cause as { message?: unknown } | undefined;
  const text = typeof cause?.message === 'string' ? cause.message : (err.message ?? '');
  return text.split('\n').find((l) => l.trim() !== '') ?? '';
}

export function toEvent(type: string, data: NodeTestData): TestEvent | undefined {
  if (type !== 'test:pass' && type !== 'test:fail') return undefined;
  const ev: TestEvent = {
    ok: type === 'test:pass',
    name: data.name,
    nesting: data.nesting,
    suite: data.details?.type === 'suite',
  };
  if (data.file !== undefined) ev.file = data.file;
  const skip = reason(data.skip);
  if (skip !== undefined) ev.skip = skip;
  const todo = reason(data.todo);
  if (todo !== undefined) ev.todo = todo;
  if (!ev.ok) {
    const err = data.details?.error;
    if (err?.failureType !== undefined) ev.failureType = err.failureType;
    const msg = firstLine(err);
    if (msg !== undefined) ev.message = msg;
  }
  return ev;
}

export default async function* eventsReporter(
  source: AsyncIterable<{ type: string; data: NodeTestData }>,
): AsyncGenerator<string> {
  for await (const { type, data } of source) {
    const ev = toEvent(type, data);
    if (ev) yield `${JSON.stringify(ev)}\n`;
  }
}
