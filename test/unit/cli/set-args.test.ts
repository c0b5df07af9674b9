// `wgm set`'s word reader in-process (wireguard-tools src/config.c, config_read_cmd and
// parse_endpoint): the model it builds, where wg's grammar rejects a word, and the resolver's retry
// lines, with an injected sleep so that the 1.2× back-off schedule is checked without waiting for
// it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSetArgs } from '../../../src/cli/set.js';
import { isWgError } from '../../../src/model/errors.js';
import { K1 } from '../../lib/keys.js';

function io(env: NodeJS.ProcessEnv = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' }) {
  const lines: string[] = [];
  const slept: number[] = [];
  return {
    lines,
    slept,
    io: {
      env,
      err: (s: string) => lines.push(s),
      sleep: async (ms: number) => {
        slept.push(ms);
      },
    },
  };
}

test('several endpoint options are kept in order, allowed-ips accumulate and replace', async () => {
  const { io: o } = io();
  const d = await parseSetArgs(
    [
      'fwmark',
      '1',
      'listen-port',
      '2',
      'fwmark',
      '3',
      'peer',
      K1,
      'endpoint',
      '192.0.2.1:1',
      'endpoint',
      '[2001:db8::1]:2',
      'endpoint',
      '192.0.2.1:1',
      'allowed-ips',
      '10.0.0.0/8',
      'allowed-ips',
      ' fd00::/8 ',
      'persistent-keepalive',
      'off',
      'peer',
      K1,
      'remove',
    ],
    o,
  );
  assert.equal(d.fwmark, 3);
  assert.equal(d.listenPort, 2);
  assert.equal(d.replacePeers, false);
  assert.equal(d.peers.length, 2);
  const [p, q] = d.peers;
  assert.deepEqual(
    p!.endpoints.map((e) => [e.spec, e.addr?.address, e.addr?.port]),
    [
      ['192.0.2.1:1', '192.0.2.1', 1],
      ['[2001:db8::1]:2', '2001:db8::1', 2],
      ['192.0.2.1:1', '192.0.2.1', 1],
    ],
  );
  assert.equal(p!.replaceAllowedIPs, true);
  assert.deepEqual(
    p!.allowedIPs.map((a) => [a.family, a.cidr]),
    [
      [4, 8],
      [6, 8],
    ],
  );
  assert.equal(p!.persistentKeepalive, 0);
  assert.equal(q!.remove, true);
  assert.equal(q!.replaceAllowedIPs, false);
});

test('words out of place are invalid arguments, named as wg names them', async () => {
  const bad: Array<[string[], string]> = [
    [['peer', K1, 'listen-port', '1'], 'listen-port'],
    [['remove'], 'remove'],
    [['peer'], 'peer'],
    [['peer', K1, 'endpoint'], 'endpoint'],
    [['listen-port', '1', 'persistent-keepalive', '5'], 'persistent-keepalive'],
    [['peer', K1, 'allowed_ips', '10.0.0.0/8'], 'allowed_ips'],
  ];
  for (const [words, word] of bad) {
    const { io: o } = io();
    await assert.rejects(parseSetArgs(words, o), (e: unknown) => {
      assert.ok(isWgError(e));
      assert.equal(e.message, `Invalid argument: ${word}`);
      assert.deepEqual(e.trailer, []);
      return true;
    });
  }
});

test('a retried resolution prints wg retry lines on the 1.2× schedule, then the final error', async () => {
  const { io: o, lines, slept } = io({ WG_ENDPOINT_RESOLUTION_RETRIES: '4' });
  await assert.rejects(parseSetArgs(['peer', K1, 'endpoint', '192.0.2.1:nosuchport'], o), (e: unknown) => {
    assert.ok(isWgError(e));
    assert.equal(e.message, "Servname not supported for ai_socktype: `192.0.2.1:nosuchport'");
    return true;
  });
  assert.deepEqual(
    lines,
    ['1.00', '1.20', '1.44', '1.73'].map(
      (s) =>
        `Servname not supported for ai_socktype: \`192.0.2.1:nosuchport'. Trying again in ${s} seconds...\n`,
    ),
  );
  assert.equal(slept.length, 4);
});
