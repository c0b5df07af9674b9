// The `wgm_endpoint_name` set key (docs/uapi-extensions.md): a name goes to a backend that
// advertises `endpoint_names`, in its place among the peer's endpoints; the server's decoder
// takes `host:port` with a DNS name and a decimal port and answers EINVAL to anything else.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyFromBase64, keyToHex } from '../../../src/crypto/keys.js';
import { SetFolder } from '../../../src/engine/uapi-server.js';
import { isWgError } from '../../../src/model/errors.js';
import { newDevice, newPeer } from '../../../src/model/index.js';
import { isDnsName } from '../../../src/model/inet.js';
import { decodeSetRequest, encodeSetRequest, SetRequestDecoder } from '../../../src/uapi/set.js';

const PUB = keyFromBase64('Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=')!;

function withName() {
  const d = newDevice();
  d.peers.push(
    newPeer({
      publicKey: PUB,
      endpoints: [
        { spec: 'peer.example:51820', name: { host: 'peer.example', port: 51820 } },
        { addr: { family: 4, address: '192.0.2.1', port: 1 } },
      ],
    }),
  );
  return d;
}

test('set: a name goes as wgm_endpoint_name in its place, to a backend that takes names', () => {
  const d = withName();
  const text = [...encodeSetRequest(d, { multiEndpoint: true, endpointNames: true })].join('');
  assert.ok(
    text.includes(
      'wgm_replace_endpoints=true\nwgm_endpoint_name=peer.example:51820\nwgm_endpoint=192.0.2.1:1\n',
    ),
    text,
  );
  const decoded = decodeSetRequest(text);
  assert.deepEqual(decoded.peers[0]!.endpoints, [
    { name: { host: 'peer.example', port: 51820 } },
    { addr: { family: 4, address: '192.0.2.1', port: 1 } },
  ]);
  // A single name still takes the list form (wg's endpoint= is numeric).
  d.peers[0]!.endpoints = d.peers[0]!.endpoints.slice(0, 1);
  const one = [...encodeSetRequest(d, { multiEndpoint: true, endpointNames: true })].join('');
  assert.ok(one.includes('wgm_replace_endpoints=true\nwgm_endpoint_name=peer.example:51820\n'), one);
  assert.ok(!one.includes('\nendpoint='));
});

test('set: without endpoint_names, or without multi_endpoint, a name is never sent', () => {
  for (const opts of [{ multiEndpoint: true }, { multiEndpoint: true, endpointNames: false }]) {
    assert.throws(
      () => [...encodeSetRequest(withName(), opts)],
      (e) => isWgError(e) && e.code === 'internal',
    );
  }
  const d = withName();
  d.peers[0]!.endpoints = d.peers[0]!.endpoints.slice(0, 1);
  assert.throws(
    () => [...encodeSetRequest(d, { multiEndpoint: false, endpointNames: true })],
    (e) => isWgError(e) && e.code === 'capability',
  );
});

test('set: the decoder takes names with a decimal port and refuses malformed ones with EINVAL', () => {
  const decode = (value: string) => {
    const dec = new SetRequestDecoder();
    dec.line(`public_key=${keyToHex(PUB)}`);
    return dec.line(`wgm_endpoint_name=${value}`);
  };
  assert.deepEqual(decode('vpn.example.org:51820'), {
    key: 'wgm_endpoint_name',
    value: { host: 'vpn.example.org', port: 51820 },
  });
  assert.deepEqual(decode('host-1_a.:1'), {
    key: 'wgm_endpoint_name',
    value: { host: 'host-1_a.', port: 1 },
  });
  const bad = [
    '',
    'vpn.example.org',
    ':51820',
    'vpn.example.org:',
    'vpn.example.org:0',
    'vpn.example.org:65536',
    'vpn.example.org:051820',
    'vpn.example.org:http',
    'vpn.example.org:+1',
    'vpn example.org:1',
    'vpn..example.org:1',
    '.vpn.example.org:1',
    'vpn.example.org..:1',
    `${'a'.repeat(64)}.example:1`,
    `${'a.'.repeat(127)}ab:1`,
    '192.0.2.1:1',
    '127.1:1',
    '0x7f000001:1',
    '[2001:db8::1]:1',
    '2001:db8::1:1',
    'vpn.exämple.org:1',
    'vpn.example.org:1\u0000',
  ];
  for (const v of bad) {
    assert.throws(
      () => decode(v),
      (e) => isWgError(e) && e.errno === 22,
      `wgm_endpoint_name=${JSON.stringify(v)} is refused with EINVAL`,
    );
  }
  // A peer key: before public_key it is refused like any unknown device key.
  assert.throws(
    () => new SetRequestDecoder().line('wgm_endpoint_name=a.example:1'),
    (e) => isWgError(e) && e.errno === 22,
  );
});

test('SetFolder: names and addresses keep their order; endpoint= replaces them', () => {
  const f = new SetFolder();
  const dec = new SetRequestDecoder();
  for (const line of [
    `public_key=${keyToHex(PUB)}`,
    'wgm_replace_endpoints=true',
    'wgm_endpoint=192.0.2.1:1',
    'wgm_endpoint_name=a.example:2',
    'wgm_endpoint=192.0.2.3:3',
  ]) {
    const op = dec.line(line);
    if (op !== 'end') f.add(op);
  }
  assert.deepEqual(f.change.peers[0]!.endpoints, [
    { addr: { family: 4, address: '192.0.2.1', port: 1 } },
    { name: { host: 'a.example', port: 2 } },
    { addr: { family: 4, address: '192.0.2.3', port: 3 } },
  ]);
  const op = dec.line('endpoint=192.0.2.9:9');
  if (op !== 'end') f.add(op);
  assert.deepEqual(f.change.peers[0]!.endpoints, [{ addr: { family: 4, address: '192.0.2.9', port: 9 } }]);
});

test('isDnsName: names, not numbers', () => {
  for (const n of ['localhost', 'a', 'x.example.', 'a-b.c_d', '1host', '123.example'])
    assert.ok(isDnsName(n), n);
  for (const n of ['', '.', '1.2.3.4', '10', '0x10.1', 'a..b', 'a b', '[::1]', '::1', 'a/b', 'a:b'])
    assert.ok(!isDnsName(n), n);
});
