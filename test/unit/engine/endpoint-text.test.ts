// The engine's one text/binary edge for endpoint addresses (src/engine/endpoint-text.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deviceFromText, deviceToText, pathFromText, pathToText } from '../../../src/engine/endpoint-text.js';
import { newDevice, newPeer, type SockAddr } from '../../../src/model/index.js';
import { ifNameToIndex } from '../../../src/sys/ifname.js';
import { pathAddr } from '../../lib/path-addr.js';

test('text to binary: IPv4, IPv6 in any spelling, a numeric or named scope', () => {
  assert.deepEqual(
    pathFromText({ family: 4, address: '192.0.2.1', port: 51820 }),
    pathAddr('192.0.2.1:51820'),
  );
  assert.deepEqual(
    pathFromText({ family: 6, address: '2001:0db8:0:0:0:0:0:1', port: 1 }),
    pathAddr('[2001:db8::1]:1'),
  );
  assert.deepEqual(
    pathFromText({ family: 6, address: 'fe80::1', port: 2, scope: '7' }),
    pathAddr('[fe80::1%7]:2'),
  );
  const lo = ifNameToIndex('lo');
  if (lo > 0)
    assert.deepEqual(
      pathFromText({ family: 6, address: 'fe80::1', port: 2, scope: 'lo' }),
      pathAddr(`[fe80::1%${lo}]:2`),
    );
});

test('text to binary: a bad address or an unknown interface is refused, naming the endpoint', () => {
  const bad: [SockAddr, RegExp][] = [
    [{ family: 4, address: '192.0.2.256', port: 1 }, /endpoint 192\.0\.2\.256:1: not an IPv4 address/],
    [{ family: 4, address: '2001:db8::1', port: 1 }, /not an IPv4 address/],
    [{ family: 6, address: '1::2::3', port: 1 }, /not an IPv6 address/],
    [{ family: 6, address: 'fe80::1', port: 1, scope: 'no-such-if0' }, /no interface named no-such-if0/],
    [{ family: 6, address: 'fe80::1', port: 1, scope: '4294967296' }, /scope 4294967296 is out of range/],
  ];
  for (const [a, re] of bad) assert.throws(() => pathFromText(a), re);
});

test('binary to text: canonical text, the scope as its index', () => {
  assert.deepEqual(pathToText(pathAddr('[2001:db8:0:0::1]:9')), {
    family: 6,
    address: '2001:db8::1',
    port: 9,
  });
  assert.deepEqual(pathToText(pathAddr('[fe80::1%3]:9')), {
    family: 6,
    address: 'fe80::1',
    port: 9,
    scope: '3',
  });
  assert.deepEqual(pathToText(pathAddr('10.0.0.1:9')), { family: 4, address: '10.0.0.1', port: 9 });
});

test('a whole device converts both ways; fields other than addresses are kept', () => {
  const key = new Uint8Array(32).fill(7);
  const text = newDevice({
    listenPort: 5,
    peers: [
      newPeer({
        publicKey: key,
        endpoints: [{ spec: 'a.example:1', addr: { family: 4, address: '192.0.2.1', port: 1 } }, {}],
        activeEndpoint: { family: 4, address: '192.0.2.1', port: 1 },
        endpointStates: [
          { addr: { family: 4, address: '192.0.2.1', port: 1 }, state: 'active', lastSeenSec: 3 },
        ],
        persistentKeepalive: 25,
      }),
    ],
  });
  const bin = deviceFromText(text);
  assert.deepEqual(bin.peers[0]!.endpoints, [{ spec: 'a.example:1', addr: pathAddr('192.0.2.1:1') }, {}]);
  assert.deepEqual(bin.peers[0]!.activeEndpoint, pathAddr('192.0.2.1:1'));
  assert.equal(bin.peers[0]!.persistentKeepalive, 25);
  assert.deepEqual(deviceToText(bin), text);
  assert.throws(
    () =>
      deviceFromText(
        newDevice({ peers: [newPeer({ endpoints: [{ addr: { family: 4, address: 'x', port: 1 } }] })] }),
      ),
    /endpoint x:1/,
  );
});
