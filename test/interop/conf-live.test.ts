// Live setconf/addconf/syncconf on wireguard-go (wireguard-tools src/setconf.c): every file of a
// small corpus goes through each verb, by stock wg to one device and by wgm to its twin, both
// starting from the same baseline with peers; `wg showconf` of the two must then be identical (a
// file without ListenPort makes setconf/syncconf pick a random port: that one number is not
// compared). Then the refusal of several Endpoint lines, with the device untouched.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { K1, K2, K3, PRIV, PRIV2, PSK, ZERO } from '../lib/keys.js';
import { need, run } from '../lib/run.js';
import { hideLike } from '../unit/config/wg-oracle.js';
import { baseline, showconf, startTwins, wgIn, wgmIn } from './setverbs-twins.js';

const BASELINE =
  `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\nFwMark = 7\n\n` +
  `[Peer]\nPublicKey = ${K1}\nPresharedKey = ${PSK}\nEndpoint = 192.0.2.1:51820\n` +
  'AllowedIPs = 10.1.0.0/16, fd01::/64\nPersistentKeepalive = 25\n\n' +
  `[Peer]\nPublicKey = ${K2}\nEndpoint = [2001:db8::2]:2\nAllowedIPs = 10.2.0.0/16\n`;

function corpus(ownPub: string): Record<string, string> {
  return {
    'full.conf':
      `[Interface]\nPrivateKey = ${PRIV2}\nListenPort = 51830\nFwMark = 0x20\n\n` +
      `[Peer]\nPublicKey = ${K1}\nEndpoint = 198.51.100.1:1\nAllowedIPs = 10.1.0.0/16\n\n` +
      `[Peer]\nPublicKey = ${K3}\nEndpoint = [::1]:3\nAllowedIPs = 10.3.0.0/16, fd03::/64\nPersistentKeepalive = 5\n`,
    'add-peer.conf': `[Peer]\nPublicKey = ${K3}\nAllowedIPs = 10.3.0.0/16\nEndpoint = 1.2.3.4:5\n`,
    'keep-subset.conf': `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.1.0.0/16\n`,
    'move-prefix.conf': `[Interface]\nListenPort = 51820\n[Peer]\nPublicKey = ${K3}\nAllowedIPs = 10.2.0.0/16\n`,
    'empty.conf': '',
    'interface-only.conf': `[Interface]\nListenPort = 51821\nPrivateKey = ${PRIV}\n`,
    'peer-twice.conf': `[Peer]\nPublicKey = ${K2}\nEndpoint = 1.2.3.4:9\n[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.6.0.0/16\n`,
    'no-allowedips.conf': `[Interface]\nListenPort = 51820\n[Peer]\nPublicKey = ${K1}\n`,
    'psk-zero.conf': `[Interface]\nListenPort = 51820\n[Peer]\nPublicKey = ${K1}\nPresharedKey = ${ZERO}\n`,
    'own-key.conf': `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\n[Peer]\nPublicKey = ${ownPub}\nAllowedIPs = 10.7.0.0/16\n`,
    'scoped.conf': `[Interface]\nListenPort = 51820\n[Peer]\nPublicKey = ${K2}\nEndpoint = [fe80::9%lo]:4\nAllowedIPs = 10.2.1.1/16\n`,
    'parse-error.conf': `[Interface]\nListenPort = 51822\n[Peer]\nPublicKey = ${K3}\nAllowedIPs = 10.3.0.0/33\n`,
    'missing-key.conf': `[Interface]\nListenPort = 51823\n[Peer]\nAllowedIPs = 10.3.0.0/16\n`,
  };
}

const ENV = { ...process.env, WG_ENDPOINT_RESOLUTION_RETRIES: '0' };

test('wgm setconf/addconf/syncconf leave wireguard-go exactly as wg does', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip'] })) return;
  const tw = await startTwins(t, 'svc');
  const base = tw.lab.file('baseline.conf', BASELINE);
  const ownPub = run('wg', ['pubkey'], { input: `${PRIV}\n` }).stdout.trim();
  let compared = 0;
  let changed = 0;
  for (const [name, text] of Object.entries(corpus(ownPub))) {
    const file = tw.lab.file(name, text);
    for (const verb of ['setconf', 'addconf', 'syncconf']) {
      baseline(tw, base);
      const before = showconf(tw, 'wg');
      const theirs = wgIn(tw, 'wg', [verb, tw.wg.ifname, file], ENV);
      const ours = wgmIn(tw, [verb, tw.ours.ifname, file], ENV);
      const what = `${verb} ${name}`;
      const mine = ours.stderr.replace(new RegExp(`^${file}:\\d+: `, 'gm'), '');
      assert.equal(ours.status, theirs.status, `${what}: status (${ours.stderr})`);
      assert.equal(mine, hideLike(theirs.stderr, mine), `${what}: stderr`);
      let a = showconf(tw, 'wg');
      let b = showconf(tw, 'ours');
      if (verb !== 'addconf' && !/ListenPort/.test(text)) {
        a = a.replace(/^ListenPort = \d+$/m, 'ListenPort = (random)');
        b = b.replace(/^ListenPort = \d+$/m, 'ListenPort = (random)');
      }
      assert.equal(b, a, `${what}: showconf`);
      compared++;
      if (a !== before) changed++;
    }
  }
  t.diagnostic(`${compared} verb × file runs compared, ${changed} changed the device`);
  assert.ok(changed >= 25, `only ${changed} runs changed the device`);
});

test('several Endpoint lines on wireguard-go: every verb refuses, device untouched, file:line named', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip'] })) return;
  const tw = await startTwins(t, 'svf');
  const base = tw.lab.file('baseline.conf', BASELINE);
  const file = tw.lab.file(
    'multi.conf',
    `[Interface]\nListenPort = 51999\n\n[Peer]\nPublicKey = ${K3}\nAllowedIPs = 10.3.0.0/16\n\n` +
      `[Peer]\nPublicKey = ${K1}\nEndpoint = 192.0.2.1:51820\nEndpoint = [2001:db8::1]:51820\n`,
  );
  baseline(tw, base);
  const before = showconf(tw, 'ours');
  for (const verb of ['setconf', 'addconf', 'syncconf']) {
    const r = wgmIn(tw, [verb, tw.ours.ifname, file], ENV);
    assert.equal(r.status, 1, verb);
    const [first, hint] = r.stderr.split('\n');
    assert.equal(
      first,
      `${file}:8: Peer ${K1} has 2 endpoints, but ${tw.ours.ifname} is run by a userspace daemon that does ` +
        'not offer multi_endpoint (such as wireguard-go): it holds one endpoint per peer',
      verb,
    );
    assert.match(hint!, new RegExp(`wgm up ${tw.ours.ifname}'.*keep one Endpoint line`), verb);
    assert.equal(showconf(tw, 'ours'), before, `${verb}: device untouched`);
  }
  // Stock wg takes the same file and keeps the last endpoint: the silent choice wgm declines.
  assert.equal(wgIn(tw, 'wg', ['setconf', tw.wg.ifname, file]).status, 0);
  assert.match(showconf(tw, 'wg'), /Endpoint = \[2001:db8::1\]:51820/);
});
