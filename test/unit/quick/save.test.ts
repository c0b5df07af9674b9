// src/quick/save.ts without a running interface: how save_config's inputs are read (ip -brief,
// resolvconf, interface-order), the whole save on a recorded state, and the atomic write
// (mode 0600 whatever the umask, nothing left behind and the original intact on failure).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stateDifference, stateOfText } from '../../../src/config/saved.js';
import { keyToBase64 } from '../../../src/crypto/keys.js';
import { isWgError } from '../../../src/model/errors.js';
import {
  briefAddresses,
  resolvconfNameservers,
  resolvconfPrefix,
  resolvectlNameservers,
  savedText,
  writeAtomically,
} from '../../../src/quick/save.js';

import { Rng, testSeed } from '../../lib/rng.js';
import { randomDevice } from '../config/random-model.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-quick-save-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('ip -all -brief address: the words after the state, link-local included', () => {
  const out =
    'wg0             UNKNOWN        10.0.0.5/24 10.0.5.5/32 fd00::5/64 fe80::92c:c49e:b41b:c1bb/64 \n';
  assert.deepEqual(briefAddresses('wg0', out), [
    '10.0.0.5/24',
    '10.0.5.5/32',
    'fd00::5/64',
    'fe80::92c:c49e:b41b:c1bb/64',
  ]);
  assert.deepEqual(briefAddresses('wg0', 'wg0             DOWN           \n'), []);
  assert.deepEqual(briefAddresses('wg0', 'wg01            UP             10.1.1.1/32\n'), []);
  assert.deepEqual(briefAddresses('wg0', ''), []);
});

test('resolvconf records: nameserver lines only, with save_config pattern', () => {
  const rec =
    'nameserver 10.0.9.1\nnameserver fd00::53\nsearch example.com\n# x\nnameserver fe80::1%wg0\nnameserver a b\n';
  assert.deepEqual(resolvconfNameservers(rec), ['10.0.9.1', 'fd00::53', 'fe80::1%wg0']);
});

test('resolvectl dns IF: the servers after the link name', () => {
  assert.deepEqual(resolvectlNameservers('Link 5 (wg0): 10.0.9.1 fd00::53\n'), ['10.0.9.1', 'fd00::53']);
  assert.deepEqual(resolvectlNameservers('Link 5 (wg0):\n'), []);
  assert.deepEqual(resolvectlNameservers(''), []);
});

test('interface-order: the first NAME* line gives the prefix', () => {
  assert.equal(resolvconfPrefix(undefined), '');
  assert.equal(resolvconfPrefix('lo.inet*\ntun*\ntap*\nhso*\n'), 'tun.');
  assert.equal(resolvconfPrefix('# nothing\n'), '');
});

test('savedText keeps comments and reads back as the state; a broken file gets the whole-file form', async () => {
  const text = '# mine\n[Interface]\nAddress = 10.0.0.1/24 # a\nListenPort = 1\n';
  const state = stateOfText(text);
  state.addresses.push('10.0.0.2/32');
  state.device.listenPort = 2;
  const out = await savedText(text, state);
  assert.equal(
    out,
    '# mine\n[Interface]\nAddress = 10.0.0.1/24 # a\nAddress = 10.0.0.2/32\nListenPort = 2\n',
  );
  const broken = '[Interface]\nSaveConfig = maybe\nListenPort = 1\n';
  const whole = await savedText(broken, state);
  assert.ok(whole.startsWith('[Interface]\nAddress = 10.0.0.1/24\nAddress = 10.0.0.2/32\n'), whole);
  assert.equal(stateDifference(stateOfText(whole), state), undefined);
});

test('writeAtomically: mode 0600 whatever the umask and the old mode, no temporary file left', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'wg0.conf');
  writeFileSync(path, 'old\n', { mode: 0o644 });
  const old = process.umask(0);
  try {
    writeAtomically(path, Buffer.from('new\n'));
  } finally {
    process.umask(old);
  }
  assert.equal(readFileSync(path, 'utf8'), 'new\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['wg0.conf']);
});

test('writeAtomically: a failed rename leaves the target as it was and removes the temporary file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'wg0.conf');
  mkdirSync(path);
  writeFileSync(join(path, 'keep'), 'x');
  assert.throws(
    () => writeAtomically(path, Buffer.from('new\n')),
    (e: unknown) => isWgError(e) && e.message.startsWith('Could not move configuration file'),
  );
  assert.deepEqual(readdirSync(dir), ['wg0.conf']);
  assert.deepEqual(readdirSync(path), ['keep']);
});

test('writeAtomically: a directory that cannot be written to fails before anything changes', (t) => {
  const path = join(tempDir(t), 'missing', 'wg0.conf');
  assert.throws(
    () => writeAtomically(path, Buffer.from('new\n')),
    (e: unknown) => isWgError(e) && e.message.startsWith('Could not write configuration file'),
  );
});

test('savedText on malformed files: whatever the text, what is written reads back as the state', async () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  const key = () => keyToBase64(rng.bytes(32));
  const palette = [
    () => '[Interface]',
    () => '[Peer]',
    () => '[ Interface ]',
    () => '[Other]',
    () => `PublicKey = ${key()}`,
    () => 'PublicKey = not-a-key',
    () => `PrivateKey = ${key()}`,
    () => 'Endpoint = 192.0.2.1:51820',
    () => 'Endpoint = [2001:db8::1]:1, 192.0.2.2:2',
    () => 'Endpoint = no-port',
    () => 'Endpoint =',
    () => 'AllowedIPs = 10.0.0.0/99',
    () => 'AllowedIPs = 10.0.0.1/32,,fd00::/8',
    () => 'Address = 10.1.1.1/24 fd00::1',
    () => 'DNS = 10.0.9.1,example.com',
    () => 'SaveConfig = maybe',
    () => 'SaveConfig = true',
    () => 'MTU =',
    () => 'ListenPort = 99999',
    () => 'FwMark = 0xzz',
    () => 'PostUp = echo # hi',
    () => '= =',
    () => '#',
    () => '',
    () => '\0\t \r',
    () => String.fromCharCode(...rng.bytes(8)),
  ];
  for (let i = 0; i < 300; i++) {
    const lines = Array.from({ length: rng.int(14) }, () => rng.pick(palette)());
    const text = lines.join(rng.chance(0.2) ? '\r\n' : '\n');
    const device = randomDevice(rng);
    const state = {
      addresses: rng.chance(0.5) ? ['10.1.1.1/24'] : [],
      dns: rng.chance(0.5) ? ['10.0.9.1'] : [],
      saveConfig: rng.chance(0.3),
      preUp: [],
      postUp: [],
      preDown: [],
      postDown: [],
      device,
    };
    const out = await savedText(text, state);
    assert.equal(
      stateDifference(stateOfText(out), state),
      undefined,
      `seed ${seed}, case ${i}\n--- in ---\n${JSON.stringify(text)}\n--- out ---\n${out}`,
    );
  }
});
