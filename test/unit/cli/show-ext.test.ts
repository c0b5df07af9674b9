// wgm's additions to show, against a fake wgm-engine: candidate lines in pretty output (and
// nowhere else: `endpoints`, `dump` and `showconf` keep wg's one active endpoint), and the
// `--json` document. Runs the verbs in-process with a capturing context.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setKernelForTesting } from '../../../src/backend/backend.js';
import type { Ctx } from '../../../src/cli/context.js';
import { run as show } from '../../../src/cli/show.js';
import { run as showconf } from '../../../src/cli/showconf.js';
import { keyToBase64, keyToHex } from '../../../src/crypto/keys.js';
import { type FakeUapi, startFakeUapi } from '../../lib/fake-uapi.js';
import { isRoot } from '../../lib/run.js';

const NAME = `ux${process.pid % 100000}`;
const KEY = new Uint8Array(32).fill(3);
const PSK = new Uint8Array(32).fill(4);
const B64 = keyToBase64(KEY);

const REPLY = [
  'wgm_implementation=wgm-engine/0.1.0',
  'wgm_capabilities=multi_endpoint',
  'listen_port=51820',
  `public_key=${keyToHex(KEY)}`,
  `preshared_key=${keyToHex(PSK)}`,
  'endpoint=[2001:db8::1]:51820',
  'wgm_endpoint=192.0.2.1:51820',
  'wgm_endpoint_state=failed',
  'wgm_endpoint=[2001:db8::1]:51820',
  'wgm_endpoint_state=active',
  'wgm_endpoint_rtt_us=12345',
  'wgm_endpoint_last_seen_sec={{NOW-3}}',
  'wgm_endpoint=198.51.100.7:4500',
  'wgm_endpoint_state=standby',
  'last_handshake_time_sec={{NOW-3}}',
  'rx_bytes=18446744073709551615',
  'tx_bytes=1664',
  'allowed_ip=10.0.0.0/24',
  'allowed_ip=::2:3/128',
  'errno=0',
].join('\n');

function ctx(env: NodeJS.ProcessEnv = {}): Ctx & { stdout: string; stderr: string } {
  const c = {
    prog: 'wgm',
    env,
    stdout: '',
    stderr: '',
    out(text: string) {
      c.stdout += text;
    },
    err(text: string) {
      c.stderr += text;
    },
    outBytes(bytes: Uint8Array) {
      c.stdout += Buffer.from(bytes).toString('latin1');
    },
    stdin: process.stdin,
    stdoutIsTTY: false,
    stdoutFd: 1,
  };
  return c;
}

let fake: FakeUapi | undefined;
before(async () => {
  setKernelForTesting(undefined);
  if (isRoot) fake = await startFakeUapi(NAME, { getReply: REPLY });
});
after(async () => {
  await fake?.close();
});

test('pretty: one candidate line per candidate, after the endpoint line, with its state', {
  skip: !isRoot && 'needs root',
}, async () => {
  // The reply's times are "3 seconds ago" at request time; retry if the second turned meanwhile.
  let c = ctx();
  for (let i = 0; i < 3; i++) {
    c = ctx();
    assert.equal(await show([NAME], c), 0);
    if (c.stdout.includes('latest handshake: 3 seconds ago')) break;
  }
  assert.equal(
    c.stdout,
    [
      `interface: ${NAME}`,
      '  listening port: 51820',
      '',
      `peer: ${B64}`,
      '  preshared key: (hidden)',
      '  endpoint: [2001:db8::1]:51820',
      '  candidate: 192.0.2.1:51820 (failed)',
      '  candidate: [2001:db8::1]:51820 (active, rtt 12.35 ms, seen 3 seconds ago)',
      '  candidate: 198.51.100.7:4500 (standby)',
      '  allowed ips: 10.0.0.0/24, ::0.2.0.3/128',
      '  latest handshake: 3 seconds ago',
      '  transfer: 16777216.00 TiB received, 1.62 KiB sent',
      '',
    ].join('\n'),
  );
  const coloured = ctx({ WG_COLOR_MODE: 'always' });
  await show([NAME], coloured);
  assert.ok(coloured.stdout.includes('  \x1b[1mcandidate\x1b[0m: 192.0.2.1:51820 (\x1b[31mfailed\x1b[0m)\n'));
  assert.ok(
    coloured.stdout.includes(
      '(\x1b[32mactive\x1b[0m, rtt 12.35 \x1b[36mms\x1b[0m, seen 3 \x1b[36mseconds\x1b[0m ago)',
    ),
  );
});

test("endpoints, dump and showconf keep wg's single active endpoint", {
  skip: !isRoot && 'needs root',
}, async () => {
  const e = ctx();
  await show([NAME, 'endpoints'], e);
  assert.equal(e.stdout, `${B64}\t[2001:db8::1]:51820\n`);
  const d = ctx();
  await show([NAME, 'dump'], d);
  assert.equal(d.stdout.split('\n')[1]!.split('\t')[2], '[2001:db8::1]:51820');
  const s = ctx();
  assert.equal(await showconf([NAME], s), 0);
  assert.equal(s.stdout.match(/^Endpoint = /gm)?.length, 1);
  assert.ok(s.stdout.includes('Endpoint = [2001:db8::1]:51820\n'));
});

test('--json: one document, exact 64-bit counters, candidates, for IF and for all', {
  skip: !isRoot && 'needs root',
}, async () => {
  const c = ctx();
  assert.equal(await show([NAME, '--json'], c), 0);
  assert.ok(c.stdout.includes('"rxBytes": 18446744073709551615'), 'the counter is written exactly');
  const doc = JSON.parse(c.stdout) as { interfaces: Array<Record<string, unknown>> };
  assert.equal(doc.interfaces.length, 1);
  const dev = doc.interfaces[0]!;
  assert.equal(dev['name'], NAME);
  assert.equal(dev['listenPort'], 51820);
  const peer = (dev['peers'] as Array<Record<string, unknown>>)[0]!;
  assert.equal(peer['publicKey'], B64);
  assert.equal(peer['presharedKey'], keyToBase64(PSK));
  assert.equal(peer['endpoint'], '[2001:db8::1]:51820');
  assert.deepEqual(peer['allowedIPs'], ['10.0.0.0/24', '::0.2.0.3/128']);
  assert.equal(peer['txBytes'], 1664);
  assert.deepEqual(
    (peer['candidates'] as Array<Record<string, unknown>>).map((x) => [
      x['endpoint'],
      x['state'],
      x['rttMs'],
    ]),
    [
      ['192.0.2.1:51820', 'failed', null],
      ['[2001:db8::1]:51820', 'active', 12.345],
      ['198.51.100.7:4500', 'standby', null],
    ],
  );
  const all = ctx();
  await show(['all', '--json'], all);
  const names = (JSON.parse(all.stdout) as { interfaces: Array<{ name: string }> }).interfaces.map(
    (i) => i.name,
  );
  assert.ok(names.includes(NAME));
  // --json does not combine with a field or with `interfaces`.
  for (const args of [
    [NAME, 'dump', '--json'],
    ['interfaces', '--json'],
  ]) {
    const u = ctx();
    assert.equal(await show(args, u), 1);
    assert.match(u.stderr, /^Usage: wgm show /);
  }
});
