// Live `wgm set` on wireguard-go (wireguard-tools src/set.c; wireguard-go clamps a stored private
// key, device/noise-types.go FromMaybeZeroHex): each command line is applied by stock wg to one
// device and by wgm to its twin, both starting from the same baseline; afterwards `wg showconf` of
// the two must be identical, and so must exit status and stderr. Then the multi-endpoint refusal:
// wireguard-go holds one endpoint per peer, so wgm must refuse several and leave the device exactly
// as it was.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { K1, K2, K3, PRIV, PRIV2, PSK } from '../lib/keys.js';
import { need, run } from '../lib/run.js';
import { hideLike } from '../unit/config/wg-oracle.js';
import { baseline, showconf, startTwins, wgIn, wgmIn } from './setverbs-twins.js';

const BASELINE =
  `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\n\n` +
  `[Peer]\nPublicKey = ${K1}\nPresharedKey = ${PSK}\nEndpoint = 192.0.2.1:51820\n` +
  'AllowedIPs = 10.1.0.0/16, fd01::/64\nPersistentKeepalive = 25\n\n' +
  `[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.2.0.0/16\n`;

interface Case {
  args: string[];
  /** The case lets the port be chosen at random: compare everything but that number. */
  randomPort?: boolean;
}

function cases(f: (n: string) => string, ownPub: string): Case[] {
  const c = (...args: string[]): Case => ({ args });
  return [
    c('listen-port', '51900', 'fwmark', '0x10'),
    c('listen-port', '70000'),
    { args: ['listen-port', '0'], randomPort: true },
    c('fwmark', 'off'),
    c('fwmark', '4294967295'),
    c('private-key', f('priv2.key')),
    c('private-key', '/dev/null'),
    c('private-key', f('priv.key')),
    c('peer', K1, 'remove'),
    c('peer', K3, 'remove'),
    c('peer', K1, 'allowed-ips', ''),
    c('peer', K1, 'allowed-ips', '10.1.2.3/24,fd01::1/64'),
    c('peer', K3, 'allowed-ips', '10.2.0.0/16,10.3.0.0/16'),
    c('peer', K1, 'allowed-ips', '10.9.0.0/16', 'allowed-ips', '10.8.0.0/16'),
    c('peer', K1, 'endpoint', '[fe80::1%lo]:51820'),
    c('peer', K1, 'endpoint', 'localhost:9'),
    c('peer', K1, 'endpoint', '1.2.3:5'),
    c('peer', K1, 'persistent-keepalive', 'off'),
    c('peer', K2, 'persistent-keepalive', '65535'),
    c('peer', K1, 'preshared-key', f('empty.key')),
    c('peer', K2, 'preshared-key', f('psk.key')),
    c('peer', ownPub, 'allowed-ips', '10.7.0.0/16'),
    c('peer', K3, 'endpoint', '[::1]:7', 'peer', K2, 'remove', 'peer', K1, 'allowed-ips', '0.0.0.0/0,::/0'),
    c('peer', K1, 'endpoint', '1.2.3.4:5', 'endpoint', '1.2.3.4:5'),
    c('peer', K1, 'allowed-ips', '10.5.0.0/16', 'fwmark', '1'),
    c('peer', K1, 'allowed-ips', '10.5.0.0/33'),
    c('peer', K1, 'endpoint', '1.2.3.4'),
    c('private-key', f('bad.key')),
  ];
}

const ENV = { ...process.env, WG_ENDPOINT_RESOLUTION_RETRIES: '0' };

test('wgm set leaves wireguard-go exactly as wg set does', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip'] })) return;
  const tw = await startTwins(t, 'svl');
  const f = (n: string) => `${tw.lab.dir}/${n}`;
  tw.lab.file('priv.key', `${PRIV}\n`);
  tw.lab.file('priv2.key', `${PRIV2}\n`);
  tw.lab.file('psk.key', `${PSK}\n`);
  tw.lab.file('empty.key', '');
  tw.lab.file('bad.key', `${PRIV.slice(0, 43)}-\n`);
  const base = tw.lab.file('baseline.conf', BASELINE);
  const ownPub = run('wg', ['pubkey'], { input: `${PRIV}\n` }).stdout.trim();
  let changed = 0;
  for (const c of cases(f, ownPub)) {
    baseline(tw, base);
    const before = showconf(tw, 'wg');
    const theirs = wgIn(tw, 'wg', ['set', tw.wg.ifname, ...c.args], ENV);
    const ours = wgmIn(tw, ['set', tw.ours.ifname, ...c.args], ENV);
    const what = `set IF ${c.args.join(' ')}`;
    assert.equal(ours.status, theirs.status, `${what}: status (${ours.stderr})`);
    assert.equal(ours.stderr, hideLike(theirs.stderr, ours.stderr), `${what}: stderr`);
    let a = showconf(tw, 'wg');
    let b = showconf(tw, 'ours');
    if (c.randomPort) {
      a = a.replace(/^ListenPort = \d+$/m, 'ListenPort = (random)');
      b = b.replace(/^ListenPort = \d+$/m, 'ListenPort = (random)');
    }
    assert.equal(b, a, `${what}: showconf`);
    if (a !== before) changed++;
  }
  assert.ok(changed >= 20, `only ${changed} cases changed the device`);
});

test('several endpoints on wireguard-go: refused, device untouched, peer and backend named', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip'] })) return;
  const tw = await startTwins(t, 'svr');
  const base = tw.lab.file('baseline.conf', BASELINE);
  baseline(tw, base);
  const before = showconf(tw, 'ours');
  const r = wgmIn(
    tw,
    [
      'set',
      tw.ours.ifname,
      'listen-port',
      '51999',
      'peer',
      K3,
      'allowed-ips',
      '10.3.0.0/16',
      'peer',
      K1,
      'endpoint',
      '192.0.2.7:1',
      'endpoint',
      '[2001:db8::7]:2',
    ],
    ENV,
  );
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    new RegExp(`^Peer ${K1.replace(/[+/]/g, '\\$&')} has 2 endpoints, but ${tw.ours.ifname} `),
  );
  assert.match(r.stderr, /does not offer multi_endpoint \(such as wireguard-go\)/);
  assert.match(r.stderr, /Nothing was changed/);
  assert.equal(showconf(tw, 'ours'), before);
});
