// Large configurations on wireguard-go (wireguard-tools src/setconf.c, setconf_main): 130,000
// allowed IPs on one peer, and 40 peers × 52 allowed IPs, each applied by `wgm setconf` to one
// device and by `wg setconf` to its twin. `wgm show IF allowed-ips` must equal `wg show IF
// allowed-ips` on wgm's device, and both must equal wg's device (peer lines sorted: wireguard-go
// lists peers in random order).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { need } from '../lib/run.js';
import {
  bigConfig,
  manyAllowedIPs,
  manyPeersConfig,
  startTwins,
  type Twins,
  wgIn,
  wgmIn,
} from './setverbs-twins.js';

function allowedIPs(tw: Twins, how: 'wg' | 'wgm', side: 'wg' | 'ours'): string[] {
  const args = ['show', tw[side].ifname, 'allowed-ips'];
  const r = how === 'wg' ? wgIn(tw, side, args) : wgmIn(tw, args);
  assert.equal(r.status, 0, `${how} show allowed-ips: ${r.stderr}`);
  return r.stdout.split('\n').sort();
}

async function roundTrip(
  t: import('node:test').TestContext,
  tag: string,
  text: string,
  expectPrefixes: number,
) {
  const tw = await startTwins(t, tag);
  const file = tw.lab.file('big.conf', text);
  const theirs = wgIn(tw, 'wg', ['setconf', tw.wg.ifname, file]);
  assert.equal(theirs.status, 0, theirs.stderr);
  const t0 = performance.now();
  const ours = wgmIn(tw, ['setconf', tw.ours.ifname, file]);
  const ms = performance.now() - t0;
  assert.equal(ours.status, 0, ours.stderr);
  const viaWgm = allowedIPs(tw, 'wgm', 'ours');
  const viaWg = allowedIPs(tw, 'wg', 'ours');
  const reference = allowedIPs(tw, 'wg', 'wg');
  const count = viaWgm.reduce((n, l) => n + (l === '' ? 0 : l.split('\t')[1]!.split(' ').length), 0);
  assert.equal(count, expectPrefixes, 'every prefix arrived');
  assert.ok(viaWgm.join('\n') === viaWg.join('\n'), 'wgm show = wg show on the device wgm configured');
  assert.ok(viaWg.join('\n') === reference.join('\n'), "wgm's device = wg's device");
  t.diagnostic(`wgm setconf of ${expectPrefixes} prefixes: ${ms.toFixed(0)} ms (process included)`);
}

test('setconf of 130,000 allowed IPs on one peer round-trips through wgm show', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip'] })) return;
  await roundTrip(t, 'svb', bigConfig(manyAllowedIPs(130_000)), 130_000);
});

test('setconf of 40 peers × 52 allowed IPs round-trips through wgm show', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip'] })) return;
  await roundTrip(t, 'svp', manyPeersConfig(), 40 * 52);
});
