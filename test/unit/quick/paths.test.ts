// resolveQuickTarget and readQuickFile: wg-quick's parse_options (wireguard-tools
// src/wg-quick/linux.bash), on files made for the test.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWgError } from '../../../src/model/errors.js';
import { readQuickFile, resolveQuickTarget } from '../../../src/quick/paths.js';
import { isRoot } from '../../lib/run.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-quick-paths-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const throwsMsg = (fn: () => unknown, msg: string) =>
  assert.throws(fn, (e: unknown) => isWgError(e) && e.message === msg);

test('a bare name is /etc/wireguard/NAME.conf, and so is `wg0.conf` (the .conf.conf quirk)', () => {
  // As root the answer is "does not exist"; a caller who may not search /etc/wireguard is told that.
  const name = `wgmq${process.pid % 100000}`;
  const expect = (p: string) =>
    assert.throws(
      () => resolveQuickTarget(p.slice('/etc/wireguard/'.length, -'.conf'.length)),
      (e: unknown) =>
        isWgError(e) &&
        (e.message === `\`${p}' does not exist` || (!isRoot && e.message === `${p}: Permission denied`)),
    );
  expect(`/etc/wireguard/${name}.conf`);
  expect(`/etc/wireguard/${name}.conf.conf`);
  // Not a name (a slash, a space, 16 characters, empty): taken as a path.
  throwsMsg(() => resolveQuickTarget(`./${name}.conf`), `\`./${name}.conf' does not exist`);
  throwsMsg(() => resolveQuickTarget('bad name'), "`bad name' does not exist");
  throwsMsg(() => resolveQuickTarget('a234567890123456'), "`a234567890123456' does not exist");
  throwsMsg(() => resolveQuickTarget(''), "`' does not exist");
});

test('the file name must be an interface name followed by .conf; the name comes from the path as given', (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o700);
  for (const f of ['a23456789012345.conf', 'a234567890123456.conf', 'x.txt', 'a=b+c_d-e.f.conf', '.conf'])
    writeFileSync(join(dir, f), '', { mode: 0o600 });
  const ok = resolveQuickTarget(join(dir, 'a23456789012345.conf'));
  assert.equal(ok.iface, 'a23456789012345');
  assert.equal(ok.path, join(dir, 'a23456789012345.conf'));
  assert.equal(resolveQuickTarget(join(dir, 'a=b+c_d-e.f.conf')).iface, 'a=b+c_d-e.f');
  const bad = 'The config file must be a valid interface name, followed by .conf';
  throwsMsg(() => resolveQuickTarget(join(dir, 'a234567890123456.conf')), bad);
  throwsMsg(() => resolveQuickTarget(join(dir, 'x.txt')), bad);
  throwsMsg(() => resolveQuickTarget(join(dir, '.conf')), bad);
  // Existence is checked first.
  throwsMsg(() => resolveQuickTarget(join(dir, 'nope.txt')), `\`${join(dir, 'nope.txt')}' does not exist`);

  symlinkSync('x.txt', join(dir, 'wgl.conf'));
  symlinkSync('a23456789012345.conf', join(dir, 'link.txt'));
  symlinkSync('missing.conf', join(dir, 'broken.conf'));
  const viaLink = resolveQuickTarget(join(dir, 'wgl.conf'));
  assert.equal(viaLink.iface, 'wgl');
  assert.equal(viaLink.path, join(dir, 'x.txt'));
  throwsMsg(() => resolveQuickTarget(join(dir, 'link.txt')), bad);
  throwsMsg(
    () => resolveQuickTarget(join(dir, 'broken.conf')),
    `\`${join(dir, 'broken.conf')}' does not exist`,
  );
  mkdirSync(join(dir, 'sub'));
  const dotted = resolveQuickTarget(`${dir}/sub/../sub/../wgl.conf`);
  assert.equal(dotted.given, `${dir}/sub/../sub/../wgl.conf`);
  assert.equal(dotted.path, join(dir, 'x.txt'));
});

test('world-accessible warning: file mode AND directory mode AND 0007', (t) => {
  const dir = tempDir(t);
  const conf = join(dir, 'wgp.conf');
  writeFileSync(conf, '[Interface]\n');
  const cases: [number, number, boolean][] = [
    [0o600, 0o700, false],
    [0o600, 0o755, false],
    [0o644, 0o700, false],
    [0o644, 0o755, true],
    [0o644, 0o701, false],
    [0o604, 0o701, false],
    [0o604, 0o755, true],
    [0o606, 0o701, false],
    [0o601, 0o701, true],
    [0o644, 0o1777, true],
  ];
  try {
    for (const [file, d, warns] of cases) {
      chmodSync(conf, file);
      chmodSync(dir, d);
      const w = resolveQuickTarget(conf).warning;
      assert.equal(
        w,
        warns ? `Warning: \`${conf}' is world accessible` : undefined,
        `${file.toString(8)} in ${d.toString(8)}`,
      );
    }
  } finally {
    chmodSync(dir, 0o700);
  }
});

test('readQuickFile: bytes as they are; a directory reads as nothing with bash’s read error', (t) => {
  const dir = tempDir(t);
  const conf = join(dir, 'wgr.conf');
  const bytes = Buffer.from([0x5b, 0x00, 0xff, 0x0d, 0x0a]);
  writeFileSync(conf, bytes);
  assert.deepEqual(readQuickFile(conf), { bytes, readError: undefined });
  mkdirSync(join(dir, 'wgd.conf'));
  const d = readQuickFile(join(dir, 'wgd.conf'));
  assert.equal(d.bytes.length, 0);
  assert.equal(d.readError, 'read: read error: 0: Is a directory');
  throwsMsg(
    () => readQuickFile(join(dir, 'gone.conf')),
    `${join(dir, 'gone.conf')}: No such file or directory`,
  );
});
