import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VERSION } from '../../../src/cli/version.js';
import { ROOT, wgm } from '../../lib/run.js';

test('the version the CLI prints is the package version', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
  for (const flag of ['--version', '-v', 'version']) {
    const r = wgm([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `wgm v${pkg.version} - WireGuard tools with several endpoints per peer\n`);
  }
});

test('unknown verbs and help', () => {
  const bad = wgm(['frobnicate']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^Invalid subcommand: `frobnicate'\nUsage: wgm <cmd> \[<args>\]/);
  assert.equal(bad.stdout, '');
  const help = wgm(['--help']);
  assert.equal(help.status, 0);
  for (const verb of [
    'show',
    'showconf',
    'set',
    'setconf',
    'addconf',
    'syncconf',
    'genkey',
    'genpsk',
    'pubkey',
    'up',
    'down',
    'reload',
    'save',
    'strip',
  ]) {
    assert.match(help.stdout, new RegExp(`wgm ${verb} `), verb);
    const vh = wgm([verb, '--help']);
    assert.equal(vh.status, 0, verb);
    assert.match(vh.stdout, new RegExp(`^Usage: wgm ${verb}`), verb);
  }
});
