// wgm's extension to `set` and the *conf verbs, on fake UAPI servers: several endpoints per peer go
// to a backend that advertises multi_endpoint as candidate lines (docs/uapi-extensions.md), and are refused,
// with nothing sent, by one that does not (wireguard-go, the kernel).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { K1, K2 } from '../../lib/keys.js';
import { need } from '../../lib/run.js';
import { diffRun, startPair, TEST_ENV, wgmAsync } from './setverbs-diff.js';

const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');
const ENGINE_GET = 'wgm_implementation=wgm-engine/0.1.0\nwgm_capabilities=multi_endpoint\nerrno=0';

test('several endpoints: refused by a backend without multi_endpoint, nothing sent', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const pair = await startPair('svr');
  t.after(() => pair.close());
  const args = (iface: string) => [
    'set',
    iface,
    'listen-port',
    '7',
    'peer',
    K2,
    'endpoint',
    '1.2.3.4:5',
    'peer',
    K1,
    'endpoint',
    '1.2.3.4:5',
    'endpoint',
    '[::1]:6',
    'allowed-ips',
    '10.0.0.0/8',
  ];
  const o = await diffRun(pair, args, TEST_ENV);
  // Stock wg keeps the last endpoint; that is the behaviour wgm declines to pretend.
  assert.equal(o.wg.status, 0);
  assert.match(o.wgSets[0]!, /\nendpoint=\[::1\]:6\n/);
  assert.equal(o.ours.status, 1);
  assert.deepEqual(o.oursSets, []);
  assert.ok(pair.ours.requests.includes('get=1\n\n'), 'the capability query');
  const lines = o.ours.stderr.split('\n');
  assert.equal(
    lines[0],
    `Peer ${K1} has 2 endpoints, but ${pair.ours.name} is run by a userspace daemon that does not offer ` +
      'multi_endpoint (such as wireguard-go): it holds one endpoint per peer',
  );
  assert.match(
    lines[1]!,
    new RegExp(`^Nothing was changed\\..*wgm up ${pair.ours.name}'.*one \`endpoint' per peer`),
  );
  assert.equal(lines.length, 3);
});

test('several endpoints: sent as candidates to a backend that advertises multi_endpoint', async (t) => {
  if (!need(t, { root: true })) return;
  const pair = await startPair('svm', { getReply: ENGINE_GET });
  t.after(() => pair.close());
  const name = pair.ours.name;
  const r = await wgmAsync(
    [
      'set',
      name,
      'peer',
      K1,
      'endpoint',
      '1.2.3.4:5',
      'endpoint',
      '[::1]:6',
      'endpoint',
      '1.2.3.4:5',
      'endpoint',
      'localhost:7',
      'allowed-ips',
      '10.0.0.0/8',
    ],
    { env: TEST_ENV },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(pair.ours.sets(), [
    `set=1\npublic_key=${hex(K1)}\nwgm_replace_endpoints=true\nwgm_endpoint=1.2.3.4:5\nwgm_endpoint=[::1]:6\n` +
      'wgm_endpoint=127.0.0.1:7\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n\n',
  ]);
});

test('one endpoint (or one repeated) is plain wg behaviour, with no capability query', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  // A server whose every `get` fails: had wgm asked for capabilities, the set would fail.
  const pair = await startPair('sv1', { getReply: 'errno=22' });
  t.after(() => pair.close());
  for (const eps of [['1.2.3.4:5'], ['1.2.3.4:5', '1.2.3.4:5'], ['1.2.3.4:5', '0x01.2.3.4:5']]) {
    const o = await diffRun(
      pair,
      (iface) => ['set', iface, 'peer', K1, ...eps.flatMap((e) => ['endpoint', e])],
      TEST_ENV,
    );
    assert.equal(o.ours.status, 0, o.ours.stderr);
    assert.deepEqual(o.oursSets, o.wgSets, eps.join(' '));
  }
  // A removed peer sends only its key, so its endpoints need no capability.
  const o = await diffRun(
    pair,
    (iface) => ['set', iface, 'peer', K1, 'endpoint', '1.2.3.4:5', 'endpoint', '[::1]:6', 'remove'],
    TEST_ENV,
  );
  assert.equal(o.ours.status, 0, o.ours.stderr);
  assert.deepEqual(o.oursSets, o.wgSets);
});

test('setconf with several Endpoint lines: refusal names file:line of each [Peer]; engine gets candidates', async (t) => {
  if (!need(t, { root: true })) return;
  const dir = mkdtempSync(join(tmpdir(), 'setverbs-multi-'));
  const plain = await startPair('svf');
  const engine = await startPair('svg', { getReply: ENGINE_GET });
  t.after(async () => {
    await plain.close();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'multi.conf');
  writeFileSync(
    file,
    `[Interface]\nListenPort = 9\n\n[Peer]\nPublicKey = ${K2}\nEndpoint = 1.2.3.4:5\n\n` +
      `[Peer]\nPublicKey = ${K1}\nEndpoint = 192.0.2.1:51820\nEndpoint = [2001:db8::1]:51820, 192.0.2.2:51820\n` +
      `AllowedIPs = 10.0.0.0/8\n\n[Peer]\nPublicKey = ${K2}\nEndpoint = 1.2.3.4:5\nEndpoint = 1.2.3.4:6\n`,
  );
  for (const verb of ['setconf', 'addconf', 'syncconf']) {
    plain.reset();
    const r = await wgmAsync([verb, plain.ours.name, file], { env: TEST_ENV });
    assert.equal(r.status, 1, verb);
    assert.deepEqual(plain.ours.sets(), [], `${verb}: nothing sent`);
    const lines = r.stderr.split('\n');
    assert.match(
      lines[0]!,
      new RegExp(`^${file}:8: Peer ${K1.replace(/[+/]/g, '\\$&')} has 3 endpoints, but `),
    );
    assert.match(lines[1]!, new RegExp(`^${file}:14: Peer ${K2.replace(/[+/]/g, '\\$&')} has 2 endpoints$`));
    assert.match(lines[2]!, /one Endpoint line per \[Peer\]/);
  }
  const r = await wgmAsync(['setconf', engine.ours.name, file], { env: TEST_ENV });
  assert.equal(r.status, 0, r.stderr);
  const sets = engine.ours.sets();
  assert.equal(sets.length, 1);
  assert.equal(
    sets[0],
    `set=1\nprivate_key=${'0'.repeat(64)}\nlisten_port=9\nfwmark=0\nreplace_peers=true\n` +
      `public_key=${hex(K2)}\nendpoint=1.2.3.4:5\nreplace_allowed_ips=true\n` +
      `public_key=${hex(K1)}\nwgm_replace_endpoints=true\nwgm_endpoint=192.0.2.1:51820\n` +
      'wgm_endpoint=[2001:db8::1]:51820\nwgm_endpoint=192.0.2.2:51820\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n' +
      `public_key=${hex(K2)}\nwgm_replace_endpoints=true\nwgm_endpoint=1.2.3.4:5\nwgm_endpoint=1.2.3.4:6\n` +
      'replace_allowed_ips=true\n\n',
  );
});
