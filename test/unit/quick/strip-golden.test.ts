// wgm strip over the fixture corpus against the answers recorded from wg-quick 1.0.20210914
// (test/fixtures/quick/expected.json, kept true by test/interop/strip.test.ts). Runs without
// root or wg-quick. In-process through the verb's run(); the outputs that are not UTF-8 take
// the byte path to the real stdout, so those run as a child process.

import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Ctx } from '../../../src/cli/context.js';
import { run } from '../../../src/cli/strip.js';
import { ROOT, wgm } from '../../lib/run.js';

const FIXTURES = join(ROOT, 'test/fixtures/quick');
const golden: Record<string, { status: number; stdout: string; stderr: string }> = JSON.parse(
  readFileSync(join(FIXTURES, 'expected.json'), 'utf8'),
);

async function inProcess(path: string): Promise<{ status: number; stdout: Buffer; stderr: string }> {
  const out: Buffer[] = [];
  let err = '';
  const ctx: Ctx = {
    prog: 'wgm',
    env: {},
    out: (s) => {
      out.push(Buffer.from(s, 'utf8'));
    },
    outBytes: (b) => {
      out.push(Buffer.from(b));
    },
    err: (s) => {
      err += s;
    },
    stdin: Readable.from([]),
    stdoutIsTTY: false,
    stdoutFd: 1,
  };
  const status = await run([path], ctx);
  return { status, stdout: Buffer.concat(out), stderr: err };
}

test('every fixture gives wg-quick’s recorded stdout, stderr and exit status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-strip-golden-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const names = readdirSync(FIXTURES).filter((n) => n.endsWith('.conf'));
  assert.deepEqual(names.sort(), Object.keys(golden).sort(), 'a fixture without a recorded answer');
  let spawned = 0;
  for (const name of names) {
    const want = golden[name]!;
    const wantOut = Buffer.from(want.stdout, 'base64');
    const path = join(dir, 'wgfix.conf');
    writeFileSync(path, readFileSync(join(FIXTURES, name)), { mode: 0o600 });
    let got: { status: number | null; stdout: Buffer; stderr: string };
    if (isUtf8(wantOut)) got = await inProcess(path);
    else {
      const r = wgm(['strip', path]);
      got = {
        status: r.status,
        stdout: r.stdoutBytes,
        stderr: Buffer.from(r.stderr, 'latin1').toString('utf8'),
      };
      spawned++;
    }
    assert.equal(got.status, want.status, `${name}: status`);
    assert.equal(got.stderr, want.stderr, `${name}: stderr`);
    assert.ok(got.stdout.equals(wantOut), `${name}: stdout`);
  }
  assert.ok(spawned >= 1, 'the byte path (a non-UTF-8 config) was exercised');
});

test('usage: anything but one argument prints wg-quick’s usage with wgm’s name, exit 1', async () => {
  for (const args of [[], ['a', 'b']]) {
    let err = '';
    const ctx = {
      prog: 'wgm',
      err: (s: string) => {
        err += s;
      },
      out: () => assert.fail('stdout'),
    } as unknown as Ctx;
    assert.equal(await run(args, ctx), 1);
    assert.match(err, /^Usage: wgm \[ up \| down \| save \| strip \] \[ CONFIG_FILE \| INTERFACE \]\n/);
    assert.match(err, /which are handled by wgm:\n/);
    assert.doesNotMatch(err, /wg-quick:/);
  }
});
