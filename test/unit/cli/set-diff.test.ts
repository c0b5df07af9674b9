// `wgm set` against stock `wg set` (wireguard-tools src/set.c, src/config.c): the same command line
// sent to two fake UAPI servers must produce the same request bytes, the same output and exit
// status. Plus wgm's extension: several `endpoint` options on a peer, refused by a backend that
// holds one.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { K1, K2, K3, PRIV, PSK } from '../../lib/keys.js';
import { need } from '../../lib/run.js';
import { asWgStderr, diffRun, expectedStderr, pool, startPair, TEST_ENV, WORKERS } from './setverbs-diff.js';

interface Case {
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

function corpus(dir: string): Case[] {
  const f = (n: string) => join(dir, n);
  const c = (name: string, ...args: string[]): Case => ({ name, args });
  return [
    c('usage: interface alone'),
    c('listen-port', 'listen-port', '1234'),
    c('listen-port 0', 'listen-port', '0'),
    c('listen-port wraps modulo 65536', 'listen-port', '70000'),
    c('listen-port with +', 'listen-port', '+51001'),
    c('listen-port with leading blank', 'listen-port', ' 51001'),
    c('listen-port by service name', 'listen-port', 'domain'),
    c('listen-port trailing junk', 'listen-port', '51001x'),
    c('listen-port negative', 'listen-port', '-1'),
    c('listen-port hex', 'listen-port', '0x10'),
    c('listen-port empty', 'listen-port', ''),
    c('listen-port without value', 'listen-port'),
    c('fwmark hex', 'fwmark', '0x10'),
    c('fwmark off', 'fwmark', 'OFF'),
    c('fwmark decimal with leading zero', 'fwmark', '010'),
    c('fwmark 0X rejected', 'fwmark', '0X10'),
    c('fwmark 0x alone', 'fwmark', '0x'),
    c('fwmark too big', 'fwmark', '4294967296'),
    c('fwmark max', 'fwmark', '0xffffffff'),
    c(
      'device options repeat, last wins',
      'listen-port',
      '1',
      'fwmark',
      '1',
      'listen-port',
      '2',
      'fwmark',
      '2',
    ),
    c('private-key file', 'private-key', f('priv.key')),
    c('private-key empty file removes', 'private-key', f('empty.key')),
    c('private-key /dev/null removes', 'private-key', '/dev/null'),
    c('private-key short file', 'private-key', f('short.key')),
    c('private-key trailing junk', 'private-key', f('trailing.key')),
    c('private-key leading blanks', 'private-key', f('lead.key')),
    c('private-key bad base64', 'private-key', f('badfmt.key')),
    c('private-key missing file', 'private-key', f('missing.key')),
    c('private-key directory', 'private-key', f('adir')),
    c('peer alone', 'peer', K1),
    c('peer bad key', 'peer', 'notakey'),
    c('peer non-canonical key', 'peer', 'Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUZ='),
    c('peer without key', 'peer'),
    c('remove before any peer', 'remove'),
    c('remove', 'peer', K1, 'remove'),
    c('remove drops the rest', 'peer', K1, 'remove', 'endpoint', '1.2.3.4:5', 'allowed-ips', '10.0.0.0/8'),
    c('device option after peer', 'peer', K1, 'listen-port', '5'),
    c('fwmark after peer', 'peer', K1, 'fwmark', '5'),
    c('private-key after peer', 'peer', K1, 'private-key', f('priv.key')),
    c('unknown word', 'peer', K1, 'bogus'),
    c('keywords are case-sensitive', 'peer', K1, 'Endpoint', '1.2.3.4:5'),
    c('--help as an argument', '--help'),
    c('endpoint IPv4', 'peer', K1, 'endpoint', '1.2.3.4:51820'),
    c('endpoint scoped IPv6', 'peer', K1, 'endpoint', '[fe80::1%lo]:51820'),
    c('endpoint IPv6', 'peer', K1, 'endpoint', '[::1]:51820'),
    c('endpoint unbracketed IPv6', 'peer', K1, 'endpoint', 'fe80::1:51820'),
    c('endpoint inet_aton shorthand', 'peer', K1, 'endpoint', '1.2.3:5'),
    c('endpoint hex shorthand', 'peer', K1, 'endpoint', '0x7f.1:5'),
    c('endpoint bracketed IPv4', 'peer', K1, 'endpoint', '[1.2.3.4]:5'),
    c('endpoint localhost', 'peer', K1, 'endpoint', 'localhost:51820'),
    c('endpoint service port', 'peer', K1, 'endpoint', '1.2.3.4:domain'),
    c('endpoint wrapping port', 'peer', K1, 'endpoint', '1.2.3.4:99999'),
    c('endpoint empty', 'peer', K1, 'endpoint', ''),
    c('endpoint without brace', 'peer', K1, 'endpoint', '[::1:5'),
    c('endpoint without port', 'peer', K1, 'endpoint', '1.2.3.4'),
    c('endpoint empty port', 'peer', K1, 'endpoint', '1.2.3.4:'),
    c('endpoint bracket without port', 'peer', K1, 'endpoint', '[::1]'),
    c('endpoint unknown port name', 'peer', K1, 'endpoint', '1.2.3.4:abc'),
    c('endpoint not stripped', 'peer', K1, 'endpoint', ' 1.2.3.4:5'),
    c('same endpoint twice is one endpoint', 'peer', K1, 'endpoint', '1.2.3.4:5', 'endpoint', '1.2.3.4:5'),
    c('keepalive', 'peer', K1, 'persistent-keepalive', '25'),
    c('keepalive off', 'peer', K1, 'persistent-keepalive', 'Off'),
    c('keepalive max', 'peer', K1, 'persistent-keepalive', '65535'),
    c('keepalive too big', 'peer', K1, 'persistent-keepalive', '65536'),
    c('keepalive with unit', 'peer', K1, 'persistent-keepalive', '25s'),
    c('keepalive not stripped', 'peer', K1, 'persistent-keepalive', ' 5'),
    c('allowed-ips list', 'peer', K1, 'allowed-ips', '10.0.0.1/32,fd00::/64'),
    c('allowed-ips empty removes all', 'peer', K1, 'allowed-ips', ''),
    c('allowed-ips whitespace removed', 'peer', K1, 'allowed-ips', ' 10.0.0.1 / 32 ,  fd00::1 '),
    c('allowed-ips host part warning', 'peer', K1, 'allowed-ips', '10.0.0.1/024'),
    c('allowed-ips without mask', 'peer', K1, 'allowed-ips', '10.0.0.1,fd00::1'),
    c('allowed-ips short IPv4', 'peer', K1, 'allowed-ips', '10.0.0/8'),
    c('allowed-ips mask too big', 'peer', K1, 'allowed-ips', '10.0.0.0/33'),
    c('allowed-ips v6 mask too big', 'peer', K1, 'allowed-ips', 'fd00::/129'),
    c('allowed-ips empty entry', 'peer', K1, 'allowed-ips', '10.0.0.0/8,,10.1.0.0/16'),
    c('allowed-ips plus prefix (2021 rejects)', 'peer', K1, 'allowed-ips', '+10.0.0.0/8'),
    c('allowed-ips accumulate', 'peer', K1, 'allowed-ips', '10.0.0.0/8', 'allowed-ips', '10.1.0.0/16,::/0'),
    c('allowed-ips warning then error', 'peer', K1, 'allowed-ips', '10.1.0.1/24,10.0.0.0/33'),
    c('allowed-ips default routes', 'peer', K1, 'allowed-ips', '0.0.0.0/0,::/0'),
    c('preshared-key', 'peer', K1, 'preshared-key', f('psk.key')),
    c('preshared-key empty removes', 'peer', K1, 'preshared-key', f('empty.key')),
    c('two peers', 'peer', K1, 'endpoint', '1.2.3.4:5', 'peer', K2, 'allowed-ips', '10.2.0.0/16'),
    c('same peer twice', 'peer', K1, 'endpoint', '1.2.3.4:5', 'peer', K1, 'endpoint', '1.2.3.4:6'),
    c(
      'repeated peer options',
      'peer',
      K1,
      'persistent-keepalive',
      '1',
      'persistent-keepalive',
      '2',
      'remove',
      'remove',
    ),
    c(
      'the recorded command (wg set, wireguard-tools 1.0.20210914)',
      'listen-port',
      '1234',
      'fwmark',
      '0x10',
      'private-key',
      f('priv.key'),
      'peer',
      K1,
      'preshared-key',
      f('psk.key'),
      'endpoint',
      '[fe80::1%lo]:51820',
      'persistent-keepalive',
      'off',
      'allowed-ips',
      '10.0.0.1/32,fd00::/64',
      'peer',
      K2,
      'remove',
      'peer',
      K1,
      'allowed-ips',
      '',
    ),
    c(
      'error after a valid peer touches nothing',
      'peer',
      K3,
      'allowed-ips',
      '10.0.0.0/8',
      'peer',
      K1,
      'fwmark',
      '1',
    ),
    { name: 'resolver retry message', args: ['peer', K1, 'endpoint', '1.2.3.4:abc'], env: retries('1') },
    {
      name: 'bad WG_ENDPOINT_RESOLUTION_RETRIES',
      args: ['peer', K1, 'endpoint', '1.2.3.4:5'],
      env: retries('x'),
    },
    {
      name: 'empty WG_ENDPOINT_RESOLUTION_RETRIES',
      args: ['peer', K1, 'endpoint', '1.2.3.4:abc'],
      env: retries(''),
    },
  ];
}

function retries(v: string): NodeJS.ProcessEnv {
  return { ...process.env, WG_ENDPOINT_RESOLUTION_RETRIES: v };
}

function makeFiles(): string {
  const dir = mkdtempSync(join(tmpdir(), 'setverbs-'));
  const w = (n: string, s: string) => writeFileSync(join(dir, n), s, { mode: 0o600 });
  w('priv.key', `${PRIV}\n`);
  w('psk.key', PSK);
  w('empty.key', '');
  w('short.key', PRIV.slice(0, 20));
  w('trailing.key', `${PRIV}x\n`);
  w('lead.key', `  ${PRIV}\n`);
  w('badfmt.key', `${PRIV.slice(0, 43)}!`);
  mkdirSync(join(dir, 'adir'));
  return dir;
}

test('wgm set sends what wg set sends, and says what it says', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const dir = makeFiles();
  const pairs = await Promise.all(Array.from({ length: WORKERS }, (_, w) => startPair(`svs${w}`)));
  t.after(async () => {
    for (const p of pairs) await p.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const cases = corpus(dir);
  assert.ok(cases.length >= 40);
  let sent = 0;
  let failed = 0;
  await pool(cases, WORKERS, async (c, w) => {
    const o = await diffRun(pairs[w]!, (iface) => ['set', iface, ...c.args], c.env ?? TEST_ENV);
    const what = `${c.name}: set IF ${c.args.join(' ')}`;
    assert.equal(o.ours.status, o.wg.status, `${what}: exit status (stderr ${o.ours.stderr})`);
    assert.deepEqual(o.oursSets, o.wgSets, `${what}: requests`);
    assert.equal(o.ours.stdout, o.wg.stdout, `${what}: stdout`);
    const mine = asWgStderr(o.ours.stderr);
    assert.equal(mine, expectedStderr(o.wg.stderr, mine), `${what}: stderr`);
    if (o.wgSets.length > 0) sent++;
    if (o.wg.status !== 0) failed++;
  });
  // Both kinds must be well represented, or the comparison proves little.
  t.diagnostic(`${cases.length} command lines: ${sent} sent a request, ${failed} failed`);
  assert.ok(sent >= 35 && failed >= 35, `${sent} sent, ${failed} failed`);
});

test('wg set without an interface prints the same usage', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const pair = await startPair('svu');
  t.after(() => pair.close());
  const o = await diffRun(pair, () => ['set']);
  assert.equal(o.ours.status, 1);
  assert.equal(o.wg.status, 1);
  assert.equal(asWgStderr(o.ours.stderr), o.wg.stderr);
});

test('backend errors read like wg: errno replies and a missing interface', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  for (const setReply of ['errno=-22', 'errno=-98', 'errno=22', 'nothing=1']) {
    const pair = await startPair('sve', { setReply });
    try {
      const o = await diffRun(pair, (iface) => ['set', iface, 'listen-port', '5']);
      assert.equal(o.ours.status, o.wg.status, setReply);
      assert.deepEqual(o.oursSets, o.wgSets, setReply);
      assert.equal(o.ours.stderr, o.wg.stderr, setReply);
    } finally {
      await pair.close();
    }
  }
  const name = `svnone${process.pid % 100000}`;
  const { runAsync, wgmAsync } = await import('./setverbs-diff.js');
  const theirs = await runAsync('wg', ['set', name, 'listen-port', '5']);
  const ours = await wgmAsync(['set', name, 'listen-port', '5']);
  assert.equal(ours.status, theirs.status);
  assert.equal(ours.stderr, theirs.stderr);
});
