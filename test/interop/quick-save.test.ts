// `wgm save` against stock `wg-quick save` on the same running interface: brought up by stock
// wg-quick with wireguard-go in a private network namespace, changed at run time with `wg set`
// and `ip addr add`, then saved by both into two copies of the file. Both files must describe
// the same state (wgm's keeps every Endpoint line whose set holds the active endpoint), wgm's
// must keep the original's comments and layout, be 0600, and equal itself when saved again.
// Failures (no such interface, a full filesystem) leave the file as it was, with no debris.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type SaveState, stateDifference, stateOfText } from '../../src/config/saved.js';
import { keypair, Lab } from '../lib/netns.js';
import { need, WGM } from '../lib/run.js';

const QUICK_ENV = { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' };

/** A state read from a file, as a backend holding one endpoint per peer would report it. */
function oneEndpointEach(s: SaveState): SaveState {
  for (const p of s.device.peers) {
    p.endpointStates = undefined;
    p.endpoints = p.endpoints.slice(-1);
  }
  return s;
}

test('wgm save and wg-quick save describe the same running state; wgm keeps the layout', async (t) => {
  if (!need(t, { root: true, commands: ['wg-quick', 'wg', 'wireguard-go', 'ip'] })) return;
  const lab = new Lab('qs');
  t.after(() => lab.cleanup());
  const ns = lab.netns('a');
  const ifname = lab.ifname('s');
  const me = keypair();
  const [gw, laptop, phone, added] = [keypair(), keypair(), keypair(), keypair()];
  const original = [
    '# office tunnel, maintained by hand',
    '[Interface]',
    'Address = 10.66.0.1/24   # the tunnel network',
    'address=10.66.5.5',
    `PrivateKey = ${me.priv}`,
    'ListenPort = 40000',
    'PostUp = echo up %i',
    'MTU = 1400 # the path is small',
    'Table = off',
    'SaveConfig = true',
    'PreDown = true',
    '',
    '# the gateway: two ways in',
    '[Peer]',
    `PublicKey = ${gw.pub}`,
    'AllowedIPs = 10.66.0.2/32, 10.66.7.0/24',
    'Endpoint = 192.0.2.1:51820',
    'Endpoint = 192.0.2.2:51820 # the backup line',
    '',
    '# laptop, to be removed at run time',
    '[Peer]',
    `PublicKey = ${laptop.pub}`,
    'AllowedIPs = 10.66.0.3/32',
    '',
    '# phone',
    '[Peer]',
    `PublicKey = ${phone.pub}`,
    'AllowedIPs = 10.66.0.4/32',
    'PersistentKeepalive = 25',
    '',
  ].join('\n');
  const up = lab.file(`${ifname}.conf`, original);
  const r = lab.exec(ns, 'wg-quick', ['up', up], { env: QUICK_ENV, timeoutMs: 60_000 });
  assert.equal(r.status, 0, r.stderr);

  // Run-time changes: a port, a new peer, a removed peer, an address, a keepalive.
  lab.wg(ns, ['set', ifname, 'listen-port', '40001', 'peer', laptop.pub, 'remove']);
  lab.wg(ns, ['set', ifname, 'peer', added.pub, 'allowed-ips', '10.66.9.0/24', 'endpoint', '198.51.100.9:5']);
  lab.wg(ns, ['set', ifname, 'peer', phone.pub, 'persistent-keepalive', 'off']);
  lab.ip(ns, 'addr', 'add', '10.77.0.9/32', 'dev', ifname);
  lab.ip(ns, 'link', 'set', 'dev', ifname, 'mtu', '1380');

  const dirs = ['stock', 'wgm'].map((d) => join(lab.dir, d));
  for (const d of dirs) {
    mkdirSync(d, { mode: 0o700 });
    copyFileSync(up, join(d, `${ifname}.conf`));
  }
  const [stockFile, wgmFile] = dirs.map((d) => join(d, `${ifname}.conf`)) as [string, string];
  const stock = lab.exec(ns, 'wg-quick', ['save', stockFile], { env: QUICK_ENV });
  assert.equal(stock.status, 0, stock.stderr);
  const mine = lab.exec(ns, process.execPath, [WGM, 'save', wgmFile]);
  assert.equal(mine.status, 0, mine.stderr);
  assert.equal(mine.stderr, stock.stderr, 'the same trace');

  const stockText = readFileSync(stockFile, 'utf8');
  const wgmText = readFileSync(wgmFile, 'utf8');
  const diff = stateDifference(stateOfText(wgmText), oneEndpointEach(stateOfText(stockText)));
  assert.equal(diff, undefined, `--- wg-quick ---\n${stockText}--- wgm ---\n${wgmText}`);
  for (const kept of [
    '# office tunnel, maintained by hand',
    'Address = 10.66.0.1/24   # the tunnel network',
    'address=10.66.5.5',
    '# the gateway: two ways in',
    'Endpoint = 192.0.2.1:51820\nEndpoint = 192.0.2.2:51820 # the backup line',
    '# phone',
  ]) {
    assert.ok(wgmText.includes(kept), `kept ${JSON.stringify(kept)}:\n${wgmText}`);
  }
  assert.ok(!wgmText.includes(laptop.pub) && !wgmText.includes('# laptop'), wgmText);
  assert.ok(!wgmText.includes('PersistentKeepalive'), wgmText);
  assert.match(wgmText, /^ListenPort = 40001$/m);
  assert.match(wgmText, /^MTU = 1380 # the path is small\nTable = off\nSaveConfig = true\nPreDown = true\n/m);
  assert.ok(wgmText.includes(added.pub), wgmText);
  assert.equal(statSync(wgmFile).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dirs[1]!), [`${ifname}.conf`], 'no temporary file left');

  // Saving again changes nothing.
  const again = lab.exec(ns, process.execPath, [WGM, 'save', wgmFile]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(readFileSync(wgmFile, 'utf8'), wgmText);

  // A full filesystem: the write fails, the file is as it was, no temporary file is left.
  const full = join(lab.dir, 'full');
  mkdirSync(full);
  const script = [
    'set -e',
    `mount -t tmpfs -o size=4k tmpfs ${full}`,
    `cp ${wgmFile} ${full}/${ifname}.conf`,
    `dd if=/dev/zero of=${full}/fill bs=512 2>/dev/null || true`,
    `set +e; ${process.execPath} ${WGM} save ${full}/${ifname}.conf; echo "status=$?"`,
    `cmp ${wgmFile} ${full}/${ifname}.conf && echo same`,
    `ls -A ${full}`,
  ].join('\n');
  const enospc = lab.exec(ns, 'unshare', ['-m', 'sh', '-c', script]);
  assert.match(enospc.stdout, /status=1\nsame\nfill\n[^\n]+\.conf\n$/, `${enospc.stdout}${enospc.stderr}`);
  assert.match(enospc.stderr, /wgm: Could not write configuration file/);

  // Not a WireGuard interface: the message, exit 1, the file untouched.
  const other = lab.file('nosuch0.conf', original);
  const before = statSync(other);
  const bad = lab.exec(ns, process.execPath, [WGM, 'save', other]);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "wgm: `nosuch0' is not a WireGuard interface\n");
  assert.equal(readFileSync(other, 'utf8'), original);
  assert.equal(statSync(other).mtimeMs, before.mtimeMs);

  const down = lab.exec(ns, 'wg-quick', ['down', up], { env: QUICK_ENV });
  assert.equal(down.status, 0, down.stderr);
});

test('wgm save on wgm-engine keeps every candidate endpoint and follows changes to them', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const lab = new Lab('qe');
  t.after(() => lab.cleanup());
  const ns = lab.netns('a');
  const engine = await lab.daemon('wgm-engine', ns);
  const ifname = engine.ifname;
  const me = keypair();
  const [gw, phone] = [keypair(), keypair()];
  const original = [
    '[Interface]',
    '# three ways to the gateway, best first',
    'Address = 10.67.0.1/24',
    `PrivateKey = ${me.priv}`,
    'ListenPort = 40100',
    '',
    '[Peer]',
    `PublicKey = ${gw.pub}`,
    'AllowedIPs = 10.67.0.2/32',
    'Endpoint = 192.0.2.1:51820   # LAN',
    'Endpoint = 198.51.100.1:51820, [2001:db8::1]:51820',
    '',
    '[Peer]',
    `PublicKey = ${phone.pub}`,
    'AllowedIPs = 10.67.0.3/32',
    '',
  ].join('\n');
  const conf = lab.file(`${ifname}.conf`, original);
  const strip = lab.exec(ns, process.execPath, [WGM, 'strip', conf]);
  assert.equal(strip.status, 0, strip.stderr);
  const stripped = lab.file('stripped.conf', strip.stdout);
  const set = lab.exec(ns, process.execPath, [WGM, 'setconf', ifname, stripped]);
  assert.equal(set.status, 0, set.stderr);
  lab.ip(ns, 'addr', 'add', '10.67.0.1/24', 'dev', ifname);
  lab.ip(ns, 'link', 'set', ifname, 'up');

  // Nothing changed at run time: not one byte of the file moves.
  const same = lab.exec(ns, process.execPath, [WGM, 'save', conf]);
  assert.equal(same.status, 0, same.stderr);
  assert.equal(same.stderr, `[#] wg showconf ${ifname}\n`);
  const saved = readFileSync(conf, 'utf8');
  const expected = original.replace('Address = 10.67.0.1/24', (a) => {
    // The kernel gives the link an IPv6 link-local address once it is up; wg-quick saves it too.
    const ll = /inet6 (fe80::[0-9a-f:]+\/64)/.exec(lab.ip(ns, '-6', 'addr', 'show', 'dev', ifname));
    return ll ? `${a}\nAddress = ${ll[1]}` : a;
  });
  assert.equal(saved, expected);

  // New candidates for the gateway: the file follows, in order, comments kept.
  const change = lab.exec(ns, process.execPath, [
    WGM,
    'set',
    ifname,
    'peer',
    gw.pub,
    'endpoint',
    '198.51.100.1:51820',
    'endpoint',
    '203.0.113.7:51820',
  ]);
  assert.equal(change.status, 0, change.stderr);
  const again = lab.exec(ns, process.execPath, [WGM, 'save', conf]);
  assert.equal(again.status, 0, again.stderr);
  const text = readFileSync(conf, 'utf8');
  assert.ok(text.includes('# three ways to the gateway, best first'), text);
  assert.match(
    text,
    /AllowedIPs = 10\.67\.0\.2\/32\nEndpoint = 198\.51\.100\.1:51820\nEndpoint = 203\.0\.113\.7:51820\n/,
  );
  assert.equal(statSync(conf).mode & 0o777, 0o600);
});
