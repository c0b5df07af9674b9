// Differential test of the config parser against stock `wg setconf` (wireguard-tools src/setconf.c,
// src/config.c): every file under test/fixtures/configs/{valid,invalid} goes to both. wgm must
// accept exactly what wg accepts, print the same lines (wgm adds `file:line: `), and for accepted
// files build the model whose request equals the one wg sent. Every endpoint wgm keeps (wg keeps
// only the last) must resolve to what `wg set ... endpoint <spec>` resolves it to.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigFile } from '../../../src/config/parse.js';
import { keyToBase64 } from '../../../src/crypto/keys.js';
import { isWgError } from '../../../src/model/errors.js';
import type { Device } from '../../../src/model/index.js';
import { formatSockAddr } from '../../../src/model/inet.js';
import { need, ROOT } from '../../lib/run.js';
import { decodeSet, expectedSet, hideLike, stripLocations, WgOracle } from './wg-oracle.js';

const DIR = join(ROOT, 'test/fixtures/configs');
const ENV = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' };

interface Outcome {
  ok: boolean;
  stderr: string;
  device?: Device;
}

async function wgmLoad(path: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
  let stderr = '';
  try {
    const r = await loadConfigFile(path, {
      env,
      sleep: async () => {},
      onWarning: (w) => {
        stderr += `${w}\n`;
      },
    });
    return { ok: true, stderr, device: r.device };
  } catch (e) {
    if (!isWgError(e)) throw e;
    stderr += `${e.location()}${e.message}\n`;
    for (const l of e.trailer) stderr += `${l}\n`;
    return { ok: false, stderr };
  }
}

/** Values of PrivateKey/PresharedKey lines (at least 8 characters), as wg cleans them. */
function secretsIn(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.split('#')[0]!.replace(/[ \t\n\v\f\r]/g, '');
    const m = /^(?:privatekey|presharedkey)=(.{8,})$/i.exec(line);
    if (m) out.push(m[1]!.slice(0, 8));
  }
  return out;
}

function fixtures(kind: string): string[] {
  return readdirSync(join(DIR, kind))
    .filter((n) => n.endsWith('.conf'))
    .sort();
}

test('the corpus is large enough to mean something', () => {
  assert.ok(fixtures('valid').length + fixtures('invalid').length >= 60);
  assert.ok(fixtures('invalid').length >= 30);
});

test('wgm accepts, rejects and reports exactly as wg setconf does', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('c');
  t.after(() => oracle.close());
  let endpointsChecked = 0;
  let hidden = 0;
  for (const kind of ['valid', 'invalid']) {
    for (const name of fixtures(kind)) {
      await t.test(`${kind}/${name}`, async () => {
        const path = join(DIR, kind, name);
        const wg = await oracle.run('setconf', [path], ENV);
        assert.equal(
          wg.status === 0,
          kind === 'valid',
          `fixture misfiled: wg said ${JSON.stringify(wg.stderr)}`,
        );
        const mine = await wgmLoad(path, ENV);
        const stripped = stripLocations(mine.stderr, path);
        assert.equal(stripped, hideLike(wg.stderr, stripped), 'stderr differs from wg');
        if (stripped !== wg.stderr) hidden++;
        for (const secret of secretsIn(
          kind === 'valid' && name.startsWith('directory') ? '' : readFileSync(path, 'latin1'),
        )) {
          assert.ok(!mine.stderr.includes(secret), `wgm printed a secret: ${mine.stderr}`);
        }
        assert.equal(mine.ok, wg.status === 0);
        if (!mine.device) return;
        assert.equal(wg.sets.length, 1);
        assert.deepEqual(expectedSet(mine.device, 'setconf'), decodeSet(wg.sets[0]!));
        for (const peer of mine.device.peers) {
          for (const ep of peer.endpoints) {
            const one = await oracle.run(
              'set',
              ['peer', keyToBase64(peer.publicKey!), 'endpoint', ep.spec!],
              ENV,
            );
            assert.equal(one.status, 0, one.stderr);
            assert.equal(
              formatSockAddr(ep.addr!),
              decodeSet(one.sets[0]!).peers[0]!.endpoint,
              `endpoint ${ep.spec}`,
            );
            endpointsChecked++;
          }
        }
      });
    }
  }
  assert.ok(endpointsChecked >= 40, `only ${endpointsChecked} endpoints compared`);
  assert.equal(hidden, 8, 'fixtures whose message quotes a secret');
});

test('a bad WG_ENDPOINT_RESOLUTION_RETRIES stops at the first endpoint, as in wg', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('r');
  t.after(() => oracle.close());
  const files = [
    'valid/endpoint-several-lines.conf',
    'valid/hostpart-warnings.conf',
    'valid/minimal.conf',
    'invalid/endpoint-missing-brace.conf',
    'invalid/warning-then-endpoint-error.conf',
    'invalid/syntax-error-before-resolve-error.conf',
    'invalid/allowedips-warning-then-error.conf',
  ];
  for (const value of ['x', '-1', '5 ', '', ' 0', '+0', '2147483648', 'Infinity']) {
    for (const file of files) {
      const path = join(DIR, file);
      const env = { WG_ENDPOINT_RESOLUTION_RETRIES: value };
      const wg = await oracle.run('setconf', [path], env);
      const mine = await wgmLoad(path, env);
      const stripped = stripLocations(mine.stderr, path);
      assert.equal(stripped, hideLike(wg.stderr, stripped), `${file} with ${JSON.stringify(value)}`);
      assert.equal(mine.ok, wg.status === 0, `${file} with ${JSON.stringify(value)}`);
    }
  }
});

test('a missing file is fopen: <strerror>, as in wg', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('f');
  t.after(() => oracle.close());
  for (const path of ['/nonexistent/wgm.conf', join(DIR, 'valid/minimal.conf/x')]) {
    const wg = await oracle.run('setconf', [path], ENV);
    const mine = await wgmLoad(path, ENV);
    assert.equal(mine.stderr, wg.stderr);
    assert.equal(mine.ok, false);
  }
});

test('extension: comma-separated Endpoint lists keep every element, each resolved as wg resolves it alone', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('x');
  t.after(() => oracle.close());
  let total = 0;
  for (const name of fixtures('extension')) {
    const path = join(DIR, 'extension', name);
    const wg = await oracle.run('setconf', [path], ENV);
    assert.notEqual(wg.status, 0, `${name}: stock wg should reject a comma list`);
    const mine = await wgmLoad(path, ENV);
    assert.ok(mine.ok, mine.stderr);
    for (const peer of mine.device!.peers) {
      assert.ok(peer.endpoints.length >= 2);
      for (const ep of peer.endpoints) {
        assert.equal(ep.spec, ep.spec!.trim());
        const one = await oracle.run(
          'set',
          ['peer', keyToBase64(peer.publicKey!), 'endpoint', ep.spec!],
          ENV,
        );
        assert.equal(formatSockAddr(ep.addr!), decodeSet(one.sets[0]!).peers[0]!.endpoint);
        total++;
      }
    }
  }
  assert.equal(total, 8);
});
