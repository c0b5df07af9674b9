// Stock wg-quick runs wgm-engine as its userspace implementation (WG_QUICK_USERSPACE_IMPLEMENTATION, linux.bash add_if):
// `WG_QUICK_USERSPACE_IMPLEMENTATION=wgm-engine wg-quick up ./IF.conf` must find the interface
// and the socket ready when wgm-engine returns, configure it with stock wg, carry traffic to a
// wireguard-go peer, and `wg-quick down` must make the daemon exit and remove its socket.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, keypair, Lab, pidsOf, SOCKET_DIR, waitFor } from '../lib/netns.js';
import { need, WGM_ENGINE } from '../lib/run.js';

test('stock wg-quick up and down with WG_QUICK_USERSPACE_IMPLEMENTATION=wgm-engine', async (t) => {
  if (!need(t, { root: true, commands: ['wg-quick', 'wg', 'wireguard-go', 'ip', 'ping'] })) return;
  const lab = new Lab('eq');
  t.after(() => lab.cleanup());
  const nsA = lab.netns('a');
  const nsB = lab.netns('b');
  const v = lab.veth(nsA, nsB, 242);
  const peer = await lab.daemon('wireguard-go', nsB);
  const me = keypair();
  const them = keypair();
  const ifname = lab.ifname('q');

  // dist's wgm-engine, on PATH through a symlink, as a package manager would install it.
  const bin = join(lab.dir, 'bin');
  mkdirSync(bin);
  if ((statSync(WGM_ENGINE).mode & 0o111) === 0) chmodSync(WGM_ENGINE, 0o755);
  symlinkSync(WGM_ENGINE, join(bin, 'wgm-engine'));

  const conf = lab.file(
    `${ifname}.conf`,
    [
      '[Interface]',
      `PrivateKey = ${me.priv}`,
      'Address = 10.78.0.1/24',
      'ListenPort = 51830',
      '',
      '[Peer]',
      `PublicKey = ${them.pub}`,
      'AllowedIPs = 10.78.0.2/32',
      `Endpoint = ${v.v4[1]}:51831`,
      '',
    ].join('\n'),
  );
  const theirKey = lab.file('their.key', `${them.priv}\n`);
  lab.wg(nsB, [
    'set',
    peer.ifname,
    'private-key',
    theirKey,
    'listen-port',
    '51831',
    'peer',
    me.pub,
    'allowed-ips',
    '10.78.0.1/32',
    'endpoint',
    `${v.v4[0]}:51830`,
  ]);
  lab.ip(nsB, 'addr', 'add', '10.78.0.2/24', 'dev', peer.ifname);
  lab.ip(nsB, 'link', 'set', peer.ifname, 'up');

  const env = {
    ...process.env,
    PATH: `${bin}:${process.env['PATH']}`,
    WG_QUICK_USERSPACE_IMPLEMENTATION: 'wgm-engine',
  };
  const up = lab.exec(nsA, 'wg-quick', ['up', conf], { env, timeoutMs: 60_000 });
  assert.equal(up.status, 0, up.stderr);
  assert.match(up.stderr, new RegExp(`\\[#\\] wgm-engine ${ifname}\\n`));
  assert.match(up.stderr, new RegExp(`\\[#\\] wg setconf ${ifname} `));
  assert.equal(lab.wg(nsA, ['show', ifname, 'listen-port']), '51830\n');
  assert.equal(lab.wg(nsA, ['show', ifname, 'peers']), `${them.pub}\n`);
  const pids = pidsOf([ifname]);
  assert.equal(pids.length, 1, 'one daemon runs');

  const pong = lab.exec(nsA, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '-q', '10.78.0.2']);
  assert.equal(pong.status, 0, `ping through the tunnel: ${pong.stdout}`);
  assert.match(
    lab.wg(nsA, ['show', ifname, 'latest-handshakes']),
    new RegExp(`^${them.pub.replace(/[+/]/g, '\\$&')}\\t[1-9]`),
  );

  const down = lab.exec(nsA, 'wg-quick', ['down', conf], { env, timeoutMs: 60_000 });
  assert.equal(down.status, 0, down.stderr);
  await waitFor('wgm-engine to exit after wg-quick down', () => !alive(pids[0]!), 15_000);
  assert.equal(existsSync(join(SOCKET_DIR, `${ifname}.sock`)), false, 'socket removed');
  assert.notEqual(lab.exec(nsA, 'ip', ['link', 'show', ifname]).status, 0, 'interface gone');
});
