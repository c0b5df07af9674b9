// loadParsedConfig with deferNames (the backend resolves names itself): names are left to the
// backend with their port made a number; literals, `*`, shorthand addresses and anything that
// is not plainly a name are resolved here as wg does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadParsedConfig } from '../../../src/config/parse.js';
import type { HostLookup } from '../../../src/config/resolve.js';

const KEY = 'Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=';

function config(endpoints: string[]): string {
  return ['[Peer]', `PublicKey = ${KEY}`, ...endpoints.map((e) => `Endpoint = ${e}`), ''].join('\n');
}

test('deferNames: names go unresolved, numbers are resolved here', async () => {
  const asked: string[] = [];
  const lookup: HostLookup = async (host) => {
    asked.push(host);
    // getaddrinfo answers a dotted quad with itself (Node hands those to it too).
    return {
      ok: true,
      family: 4,
      address: /^[0-9.]+$/.test(host) && host.split('.').length === 4 ? host : '192.0.2.7',
    };
  };
  const text = config(['vpn.example:51820', '192.0.2.1:2', '[2001:db8::1]:3', '127.1:4', 'name.example:5']);
  const { device } = await loadParsedConfig(text, { file: 'f', deferNames: true, lookup, env: {} });
  const eps = device.peers[0]!.endpoints;
  assert.deepEqual(eps[0]!.name, { host: 'vpn.example', port: 51820 });
  assert.equal(eps[0]!.addr, undefined);
  assert.deepEqual(eps[1]!.addr, { family: 4, address: '192.0.2.1', port: 2 });
  assert.deepEqual(eps[2]!.addr, { family: 6, address: '2001:db8::1', port: 3 });
  assert.equal(eps[3]!.name, undefined, 'inet_aton shorthand is an address');
  assert.ok(eps[3]!.addr);
  assert.deepEqual(eps[4]!.name, { host: 'name.example', port: 5 });
  assert.ok(!asked.includes('vpn.example') && !asked.includes('name.example'), `asked: ${asked}`);

  // Without deferNames, every name is resolved (wg's behaviour).
  const plain = await loadParsedConfig(text, { file: 'f', lookup, env: {} });
  assert.ok(plain.device.peers[0]!.endpoints.every((e) => e.addr && !e.name));
});

test('deferNames: a name with an unknown service is resolved here, with wg errors', async () => {
  const lookup: HostLookup = async () => ({ ok: false, error: 'EAI_NONAME' });
  await assert.rejects(
    loadParsedConfig(config(['vpn.example:no-such-service-x']), {
      file: 'f',
      deferNames: true,
      lookup,
      env: { WG_ENDPOINT_RESOLUTION_RETRIES: '0' },
    }),
    /Servname not supported for ai_socktype/,
  );
  // A syntax error is still wg's.
  await assert.rejects(
    loadParsedConfig(config(['vpn.example']), { file: 'f', deferNames: true, lookup, env: {} }),
    /Unable to find port of endpoint/,
  );
});
