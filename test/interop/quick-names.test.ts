// `wgm up` of a config whose peer has an endpoint name that does not resolve yet: on wgm-engine
// the tunnel comes up anyway and carries traffic through the peer's other, numeric endpoint;
// once the name starts to resolve (a line appears in the namespace's /etc/hosts, which
// `ip netns exec` binds from /etc/netns/NS/hosts), its address joins the candidates `wgm show`
// lists. With WG_ENDPOINT_RESOLUTION_RETRIES set to a number, `wgm up` resolves first, as wg
// does, fails, and leaves nothing behind. The peer's EndpointPolicy reaches the engine and
// shows. The other side is stock wireguard-go.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, keypair, Lab, pidsOf, SOCKET_DIR, waitFor } from '../lib/netns.js';
import { need, WGM } from '../lib/run.js';

const NAME = 'peer-b.wgm.test';

test('wgm up: an endpoint name that resolves late joins the candidates; a number of retries restores wg', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip', 'ping'] })) return;
  const lab = new Lab('qn');
  t.after(() => lab.cleanup());
  const nsA = lab.netns('a');
  const nsB = lab.netns('b');
  const v = lab.veth(nsA, nsB, 244);
  const peer = await lab.daemon('wireguard-go', nsB);
  const me = keypair();
  const them = keypair();
  const ifname = lab.ifname('n');

  // nsA's own hosts and resolv.conf (no DNS server answers there: only /etc/hosts can).
  const etc = `/etc/netns/${nsA}`;
  mkdirSync(etc, { recursive: true });
  t.after(() => rmSync(etc, { recursive: true, force: true }));
  const hosts = join(etc, 'hosts');
  const baseHosts = '127.0.0.1 localhost\n';
  writeFileSync(hosts, baseHosts);
  writeFileSync(join(etc, 'resolv.conf'), 'nameserver 192.0.2.53\n');

  const named = `[${v.v6[1]}]:51841`;
  const conf = lab.file(
    `${ifname}.conf`,
    [
      '[Interface]',
      `PrivateKey = ${me.priv}`,
      'Address = 10.79.0.1/24',
      'ListenPort = 51840',
      '',
      '[Peer]',
      `PublicKey = ${them.pub}`,
      'AllowedIPs = 10.79.0.2/32',
      `Endpoint = ${NAME}:51841`,
      `Endpoint = ${v.v4[1]}:51841`,
      'EndpointPolicy = preference',
      'PersistentKeepalive = 1',
      '',
    ].join('\n'),
  );
  const theirKey = lab.file('their.key', `${them.priv}\n`);
  lab.wg(nsB, ['set', peer.ifname, 'private-key', theirKey, 'listen-port', '51841']);
  lab.wg(nsB, ['set', peer.ifname, 'peer', me.pub, 'allowed-ips', '10.79.0.1/32']);
  lab.ip(nsB, 'addr', 'add', '10.79.0.2/24', 'dev', peer.ifname);
  lab.ip(nsB, 'link', 'set', peer.ifname, 'up');

  const env = { ...process.env };
  delete env['WG_ENDPOINT_RESOLUTION_RETRIES'];
  const wgm = (args: string[], e: NodeJS.ProcessEnv = env) =>
    lab.exec(nsA, process.execPath, [WGM, ...args], { env: e, timeoutMs: 60_000 });
  const show = () => wgm(['show', ifname]).stdout;
  const ping = () => lab.exec(nsA, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '-q', '10.79.0.2']);

  // Strict first: with a number of retries, the name must resolve before anything is sent.
  const strict = wgm(['up', conf], { ...env, WG_ENDPOINT_RESOLUTION_RETRIES: '0' });
  assert.notEqual(strict.status, 0, `wgm up fails:\n${strict.stderr}`);
  assert.match(strict.stderr, new RegExp(`${NAME.replace(/\./g, '\\.')}:51841`));
  assert.notEqual(lab.exec(nsA, 'ip', ['link', 'show', ifname]).status, 0, 'no interface left');
  await waitFor('no engine left', () => pidsOf([ifname]).length === 0, 10_000);
  assert.equal(existsSync(join(SOCKET_DIR, `${ifname}.sock`)), false, 'no socket left');

  // Unset: the tunnel comes up on the numeric endpoint.
  const up = wgm(['up', conf]);
  assert.equal(up.status, 0, up.stderr);
  const pids = pidsOf([ifname]);
  assert.equal(pids.length, 1, 'one engine runs');
  await waitFor(
    `traffic through the numeric endpoint (wgm show:\n${show()})`,
    () => ping().status === 0,
    30_000,
    200,
  );
  const before = show();
  assert.ok(before.includes(`${v.v4[1]}:51841`), before);
  assert.ok(!before.includes(named), `the name has no address yet:\n${before}`);
  // The [Peer] knob reached the engine, and reads back.
  assert.match(before, /^ {2}endpoint policy: preference$/m);
  const json = JSON.parse(wgm(['show', ifname, '--json']).stdout) as {
    interfaces: { peers: { policy: string; roaming: boolean }[] }[];
  };
  assert.deepEqual(
    { policy: json.interfaces[0]!.peers[0]!.policy, roaming: json.interfaces[0]!.peers[0]!.roaming },
    { policy: 'preference', roaming: true },
  );

  // The name starts to resolve: written in place, so the bind mount sees it.
  writeFileSync(hosts, `${baseHosts}${v.v6[1]} ${NAME}\n`);
  await waitFor(
    `${named} among the candidates (wgm show:\n${show()})`,
    () => show().includes(named),
    45_000,
    250,
  );
  assert.ok(show().includes(`${v.v4[1]}:51841`), 'the numeric endpoint stays a candidate');
  await waitFor(
    `traffic after the name resolved (wgm show:\n${show()})`,
    () => ping().status === 0,
    30_000,
    200,
  );

  const down = wgm(['down', conf]);
  assert.equal(down.status, 0, down.stderr);
  await waitFor('wgm-engine to exit after wgm down', () => !alive(pids[0]!), 10_000);
  assert.notEqual(lab.exec(nsA, 'ip', ['link', 'show', ifname]).status, 0, 'interface gone');
});
