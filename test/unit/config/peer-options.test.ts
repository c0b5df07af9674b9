// wgm's [Peer] keys EndpointPolicy and Roaming: collected (and removed from the WireGuard part)
// by the wg-quick reader, checked with file:line, given to the right peer; their UAPI keys both
// ways, only to a backend that holds several endpoints, and refused when malformed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/parse.js';
import { applyPeerOptions, parsePeerOptions } from '../../../src/config/peer-options.js';
import { parseQuickConfig } from '../../../src/config/quick.js';
import { keyFromBase64, keyToHex } from '../../../src/crypto/keys.js';
import { isWgError } from '../../../src/model/errors.js';
import { newDevice, newPeer } from '../../../src/model/index.js';
import { decodeGetReply, encodeGetReply } from '../../../src/uapi/get.js';
import { decodeSetRequest, encodeSetRequest, SetRequestDecoder } from '../../../src/uapi/set.js';

const K1 = 'Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=';
const K2 = 'hiw3p78SJr2xQE/HLutafQQlVvyRmJWfuoDlXvyCeCc=';

const FILE = [
  '[Interface]',
  'ListenPort = 1',
  '',
  '[Peer]',
  `PublicKey = ${K1}`,
  'EndpointPolicy = Preference  # keep the backup idle',
  'roaming=off',
  'Endpoint = 192.0.2.1:1',
  '[Peer]',
  `PublicKey = ${K2}`,
  'Roaming = true',
  '',
].join('\n');

test('the wg-quick reader takes the keys out of the WireGuard part, with their lines', () => {
  const q = parseQuickConfig(FILE);
  assert.deepEqual(q.peerOptions, [
    { line: 6, key: 'EndpointPolicy', value: 'Preference' },
    { line: 7, key: 'Roaming', value: 'off' },
    { line: 11, key: 'Roaming', value: 'true' },
  ]);
  const wg = q.wgConfig.toString();
  assert.ok(!/policy|roaming/i.test(wg), wg);
  // The padded form keeps line numbers, and wg's parser reads what is left.
  const padded = q.wgConfigPadded.toString();
  assert.equal(padded.split('\n').length, FILE.split('\n').length);
  const parsed = parseConfig(padded, { file: 'x.conf' });
  const opts = parsePeerOptions(q.peerOptions, 'x.conf');
  applyPeerOptions(parsed.device, parsed.peerLines, opts);
  assert.equal(parsed.device.peers[0]!.policy, 'preference');
  assert.equal(parsed.device.peers[0]!.roaming, false);
  assert.equal(parsed.device.peers[1]!.policy, undefined);
  assert.equal(parsed.device.peers[1]!.roaming, true);
  // In [Interface] they are not wgm's: left to wg, which refuses them.
  const inIface = parseQuickConfig('[Interface]\nRoaming = off\n');
  assert.deepEqual(inIface.peerOptions, []);
  assert.match(inIface.wgConfig.toString(), /Roaming = off/);
});

test('bad values are refused with the file and line', () => {
  for (const [key, value, re] of [
    [
      'EndpointPolicy',
      'fastest',
      /^x\.conf:5: EndpointPolicy is `fastest': it must be latency or preference$/,
    ],
    ['Roaming', 'maybe', /^x\.conf:5: Roaming is `maybe': it must be on or off$/],
    ['Roaming', '', /^x\.conf:5: Roaming is `': it must be on or off$/],
  ] as const) {
    const q = parseQuickConfig(`[Interface]\n\n[Peer]\nPublicKey = ${K1}\n${key} = ${value}\n`);
    assert.throws(
      () => parsePeerOptions(q.peerOptions, 'x.conf'),
      (e) => isWgError(e) && e.code === 'quick' && re.test(e.message),
      `${key} = ${value}`,
    );
  }
});

test('UAPI: the knobs go to a backend with multi_endpoint only, and read back', () => {
  const d = newDevice();
  d.peers.push(
    newPeer({
      publicKey: keyFromBase64(K1)!,
      endpoints: [{ addr: { family: 4, address: '192.0.2.1', port: 1 } }],
      policy: 'preference',
      roaming: false,
    }),
  );
  const multi = [...encodeSetRequest(d, { multiEndpoint: true })].join('');
  assert.match(multi, /\nendpoint=192\.0\.2\.1:1\nwgm_endpoint_policy=preference\nwgm_roaming=false\n/);
  const back = decodeSetRequest(multi).peers[0]!;
  assert.equal(back.policy, 'preference');
  assert.equal(back.roaming, false);
  const single = [...encodeSetRequest(d, { multiEndpoint: false })].join('');
  assert.ok(!single.includes('wgm_'), single);

  const reply = [...encodeGetReply(d, { capabilities: ['multi_endpoint'] })].join('');
  const got = decodeGetReply(reply).device.peers[0]!;
  assert.equal(got.policy, 'preference');
  assert.equal(got.roaming, false);
  // Stock wg's view: no extension keys without ext.
  assert.ok(![...encodeGetReply(d)].join('').includes('wgm_'));
});

test('UAPI: malformed knob values are EINVAL', () => {
  for (const line of [
    'wgm_endpoint_policy=',
    'wgm_endpoint_policy=Latency',
    'wgm_endpoint_policy=fastest',
    'wgm_roaming=on',
    'wgm_roaming=1',
    'wgm_roaming=',
    'wgm_roaming=TRUE',
  ]) {
    const dec = new SetRequestDecoder();
    dec.line(`public_key=${keyToHex(keyFromBase64(K1)!)}`);
    assert.throws(
      () => dec.line(line),
      (e) => isWgError(e) && e.errno === 22,
      line,
    );
  }
});
