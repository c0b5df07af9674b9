// `wgm up FILE` of a config whose peer has three Endpoint lines, two of them dead: it comes up
// on wgm-engine (the trace says why), carries traffic to a stock wireguard-go peer, `wgm show`
// lists the three candidates; `wgm reload` of an edited file adds an address and a route and
// keeps the session; `wgm down` leaves nothing behind (no link, engine process, UAPI socket,
// route, rule, firewall rule, DNS entry or state file).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, keypair, Lab, pidsOf, SOCKET_DIR, waitFor } from '../lib/netns.js';
import { need, WGM } from '../lib/run.js';

/** A resolvconf keeping its records in RESOLVCONF_DIR (-x semantics: records alone, else base). */
const RESOLVCONF = `#!/bin/bash
dir="$RESOLVCONF_DIR/interface"
mkdir -p "$dir"
case "$1" in
-a) cat >"$dir/$2" ;;
-d) rm -f "$dir/$2" ;;
*) exit 1 ;;
esac
if compgen -G "$dir/*" >/dev/null; then cat "$dir"/* >/etc/resolv.conf; else cat "$RESOLVCONF_DIR/base" >/etc/resolv.conf; fi
`;

test('wgm up/reload/down: three endpoints, two dead, on wgm-engine against wireguard-go', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip', 'ping', 'iptables-save'] })) return;
  const lab = new Lab('qm');
  t.after(() => lab.cleanup());
  const nsA = lab.netns('a');
  const nsB = lab.netns('b');
  const v = lab.veth(nsA, nsB, 243);
  const peer = await lab.daemon('wireguard-go', nsB);
  const me = keypair();
  const them = keypair();
  const ifname = lab.ifname('q');

  // A private resolv.conf for nsA (ip netns exec binds /etc/netns/NS/resolv.conf over it).
  const etc = `/etc/netns/${nsA}`;
  mkdirSync(etc, { recursive: true });
  t.after(() => rmSync(etc, { recursive: true, force: true }));
  writeFileSync(join(etc, 'resolv.conf'), 'nameserver 192.0.2.53\n');
  const bin = join(lab.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'resolvconf'), RESOLVCONF, { mode: 0o755 });
  writeFileSync(join(lab.dir, 'base'), 'nameserver 192.0.2.53\n');
  const env = { ...process.env, PATH: `${bin}:${process.env['PATH']}`, RESOLVCONF_DIR: lab.dir };

  const live = `${v.v4[1]}:51841`;
  const dead = ['192.168.243.99:51841', '[fd00:243::99]:51841'];
  const config = (extra: string[], allowed: string) =>
    [
      '[Interface]',
      `PrivateKey = ${me.priv}`,
      'Address = 10.78.0.1/24',
      ...extra,
      'ListenPort = 51840',
      'DNS = 10.78.0.53, example.com',
      '',
      '[Peer]',
      `PublicKey = ${them.pub}`,
      `AllowedIPs = ${allowed}`,
      `Endpoint = ${dead[0]}`,
      `Endpoint = ${dead[1]}`,
      `Endpoint = ${live}`,
      'PersistentKeepalive = 1',
      '',
    ].join('\n');
  const conf = lab.file(`${ifname}.conf`, config([], '10.78.0.2/32, 0.0.0.0/0'));

  const theirKey = lab.file('their.key', `${them.priv}\n`);
  lab.wg(nsB, ['set', peer.ifname, 'private-key', theirKey, 'listen-port', '51841']);
  lab.wg(nsB, ['set', peer.ifname, 'peer', me.pub, 'allowed-ips', '10.78.0.1/32,10.78.1.1/32']);
  lab.wg(nsB, ['set', peer.ifname, 'peer', me.pub, 'endpoint', `${v.v4[0]}:51840`]);
  lab.ip(nsB, 'addr', 'add', '10.78.0.2/24', 'dev', peer.ifname);
  lab.ip(nsB, 'link', 'set', peer.ifname, 'up');

  const rulesBefore = lab.exec(nsA, 'ip', ['rule']).stdout;
  const up = lab.exec(nsA, process.execPath, [WGM, 'up', conf], { env, timeoutMs: 60_000 });
  assert.equal(up.status, 0, up.stderr);
  assert.match(
    up.stderr,
    /^\[!\] Backend: wgm-engine \(peer .* on line \d+ has 3 endpoints; kernel WireGuard holds one per peer\)$/m,
  );
  assert.match(up.stderr, new RegExp(`^\\[#\\] wgm-engine ${ifname}$`, 'm'));
  assert.match(up.stderr, /^\[#\] ip -4 rule add not fwmark 51820 table 51820$/m);
  assert.match(readFileSync(join(etc, 'resolv.conf'), 'utf8'), /nameserver 10\.78\.0\.53/);
  const pids = pidsOf([ifname]);
  assert.equal(pids.length, 1, 'one engine runs');

  const ping = () => lab.exec(nsA, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '-q', '10.78.0.2']);
  // The engine finds the live candidate among the dead ones: give it a generous while.
  const wgmShow = () => lab.exec(nsA, process.execPath, [WGM, 'show', ifname], { env }).stdout;
  await waitFor(
    `traffic through the tunnel (wgm show:\n${wgmShow()})`,
    () => ping().status === 0,
    30_000,
    200,
  );
  const show = lab.exec(nsA, process.execPath, [WGM, 'show', ifname], { env });
  assert.equal(show.status, 0, show.stderr);
  for (const ep of [...dead, live])
    assert.ok(show.stdout.includes(ep), `wgm show lists ${ep}:\n${show.stdout}`);

  // reload: a second address and a route for a new allowed IP; the session stays.
  // A peer removed and added again would start from zero; one kept keeps its counters.
  const rxOf = () => Number(lab.wg(nsA, ['show', ifname, 'transfer']).split('\t')[1]);
  const rxBefore = rxOf();
  assert.ok(rxBefore > 0, 'traffic was counted');
  writeFileSync(conf, config(['Address = 10.78.1.1/24'], '10.78.0.2/32, 10.79.0.0/24, 0.0.0.0/0'));
  const rl = lab.exec(nsA, process.execPath, [WGM, 'reload', conf], { env, timeoutMs: 60_000 });
  assert.equal(rl.status, 0, rl.stderr);
  assert.match(rl.stderr, new RegExp(`^\\[#\\] ip -4 address add 10\\.78\\.1\\.1/24 dev ${ifname}$`, 'm'));
  assert.match(rl.stderr, new RegExp(`^\\[#\\] ip -4 route add 10\\.79\\.0\\.0/24 dev ${ifname}$`, 'm'));
  assert.ok(rxOf() >= rxBefore, 'the peer was kept (its counters did not restart)');
  const diag = () =>
    `${wgmShow()}\n${lab.wg(nsA, ['show', ifname, 'fwmark'])}${lab.exec(nsA, 'ip', ['rule']).stdout}${lab.exec(nsA, 'ip', ['route', 'show', 'table', 'all']).stdout}`;
  assert.equal(ping().status, 0, `traffic after reload:\n${diag()}`);
  assert.deepEqual(pidsOf([ifname]), pids, 'the same engine');

  // Edit the file once more before down: down undoes what up did, not what the file says now.
  writeFileSync(conf, config([], '10.78.0.2/32'));
  const down = lab.exec(nsA, process.execPath, [WGM, 'down', conf], { env, timeoutMs: 60_000 });
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stderr, /^\[#\] ip -4 rule delete table 51820$/m);
  await waitFor('wgm-engine to exit after wgm down', () => !alive(pids[0]!), 5000);
  assert.equal(existsSync(join(SOCKET_DIR, `${ifname}.sock`)), false, 'socket removed');
  assert.notEqual(lab.exec(nsA, 'ip', ['link', 'show', ifname]).status, 0, 'interface gone');
  assert.equal(lab.exec(nsA, 'ip', ['rule']).stdout, rulesBefore, 'rules as before');
  assert.equal(
    lab.exec(nsA, 'ip', ['route', 'show', 'table', 'all']).stdout.includes(ifname),
    false,
    'no route',
  );
  assert.equal(lab.exec(nsA, 'iptables-save', []).stdout.includes('wg-quick(8)'), false, 'no firewall rule');
  assert.equal(readFileSync(join(etc, 'resolv.conf'), 'utf8'), 'nameserver 192.0.2.53\n', 'DNS as before');
  assert.equal(existsSync(`/run/wgm/${ifname}.json`), false, 'no state file');
});
