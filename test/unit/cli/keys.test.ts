// genkey, genpsk and pubkey against the stock wg (wireguard-tools src/genkey.c, src/pubkey.c).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyFromBase64 } from '../../../src/crypto/keys.js';
import { need, run, WGM, wgm } from '../../lib/run.js';

test('genkey makes clamped keys, genpsk raw ones, both fresh each time', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const k = wgm(['genkey']);
    assert.equal(k.status, 0);
    assert.match(k.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
    const key = keyFromBase64(k.stdout.trim())!;
    assert.ok(key, 'canonical');
    assert.equal(key[0]! & 7, 0);
    assert.equal(key[31]! & 0xc0, 0x40);
    seen.add(k.stdout);
    const p = wgm(['genpsk']);
    assert.equal(p.status, 0);
    assert.ok(keyFromBase64(p.stdout.trim()));
    seen.add(p.stdout);
  }
  assert.equal(seen.size, 40);
});

test('usage errors match wg', (t) => {
  if (!need(t, { commands: ['wg'] })) return;
  for (const verb of ['genkey', 'genpsk', 'pubkey']) {
    const ours = wgm([verb, 'extra']);
    const theirs = run('wg', [verb, 'extra']);
    assert.equal(ours.status, theirs.status);
    assert.equal(ours.stderr.replace(/^Usage: wgm/, 'Usage: wg'), theirs.stderr);
  }
});

test('pubkey equals wg pubkey for many keys and for every malformed input class', (t) => {
  if (!need(t, { commands: ['wg'] })) return;
  const inputs: string[] = [];
  for (let i = 0; i < 25; i++) inputs.push(wgm(['genkey']).stdout);
  inputs.push(
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n',
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', // no newline
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\0\0 \t\r\n\v\f', // NUL and all whitespace
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= x', // trailing junk
    '  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', // leading blanks
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n', // non-canonical
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n', // no padding
    '-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n', // URL-safe alphabet
    'short\n',
    '',
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=x', // bad key and trailing junk
  );
  for (const input of inputs) {
    const ours = run(process.execPath, [WGM, 'pubkey'], { input });
    const theirs = run('wg', ['pubkey'], { input });
    assert.equal(ours.stdout, theirs.stdout, JSON.stringify(input));
    assert.equal(ours.status, theirs.status, JSON.stringify(input));
    assert.equal(ours.stderr.replace(/^wgm:/, 'wg:'), theirs.stderr, JSON.stringify(input));
  }
});

test('genkey warns when writing to a world-accessible file, like wg', (t) => {
  if (!need(t, { commands: ['wg'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'wgm-keys-'));
  try {
    for (const [mode, tool] of [
      [0o644, 'wg'],
      [0o644, 'wgm'],
      [0o600, 'wg'],
      [0o600, 'wgm'],
    ] as const) {
      const file = join(dir, `${tool}-${mode.toString(8)}`);
      const fd = openSync(file, 'w', mode);
      const r =
        tool === 'wg'
          ? spawnSync('wg', ['genkey'], { stdio: ['ignore', fd, 'pipe'] })
          : spawnSync(process.execPath, [WGM, 'genkey'], { stdio: ['ignore', fd, 'pipe'] });
      closeSync(fd);
      const expected =
        mode & 0o007
          ? 'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n'
          : '';
      assert.equal(r.stderr.toString(), expected, `${tool} ${mode.toString(8)}`);
      assert.ok(keyFromBase64(readFileSync(file, 'latin1').trim()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
