// kernelGet and kernelList against stock wg on real kernel WireGuard (Debian 6.12 kernel in
// the test VM): devices made with stock wg must read back through wgm as exactly what
// `wg showconf` and `wg show IF dump` print: keys, ports, fwmark, every endpoint form, a
// coalesced peer with 3,000 prefixes, and a live tunnel's handshake time and byte counters.
// The GETFAMILY and GET_DEVICE requests wg sends (recorded on an nlmon device) must be the
// ones wgm sends. One VM boot for the whole file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestRun, randomKey } from '../vm/kit.js';

const K = {
  dev: randomKey(),
  p1: randomKey(),
  p2: randomKey(),
  p3: randomKey(),
  p4: randomKey(),
  psk: randomKey(),
};

function manyPrefixes(): string {
  const out: string[] = [];
  for (let i = 0; i < 3000; i++)
    out.push(i % 3 === 2 ? `fd02:${i.toString(16)}::/64` : `10.${i >> 8}.${i & 255}.0/24`);
  return out.join(',');
}

const DEVICES = ['wgg0', 'wgg1', 'wgg2', 'wgh1'];

test('kernelGet and kernelList match stock wg on kernel WireGuard', { timeout: 900_000 }, async (t) => {
  const g = GuestRun.start(t);
  if (!g) return;
  const prefixes = g.file('prefixes', manyPrefixes());

  g.run(
    'set -e',
    'modprobe wireguard',
    'ip link add wgg0 type wireguard',
    'ip link add wgg1 type wireguard',
    'ip link add wggd type dummy',
    'ip link add wgg2 type wireguard',
    `wg set wgg0 private-key <(echo ${K.dev}) listen-port 51820 fwmark 0xbeef` +
      ` peer ${K.p1} preshared-key <(echo ${K.psk}) endpoint 192.0.2.1:51820 persistent-keepalive 25` +
      ' allowed-ips 10.0.0.0/24,10.1.0.1/32,fd00::/64,::ffff:192.0.2.0/120,::2:3/128,1:0:0:1::1/128' +
      ` peer ${K.p2} endpoint [2001:db8::1]:443 allowed-ips 0.0.0.0/0,::/0` +
      ` peer ${K.p3} endpoint [fe80::1%wgg1]:5` +
      ` peer ${K.p4} endpoint [fe80::2%4242]:6`,
    `wg set wgg1 listen-port 51821 peer ${K.p1} allowed-ips "$(cat ${prefixes})" peer ${K.p2} allowed-ips 192.168.7.0/24` +
      ` peer ${K.p3} allowed-ips 192.168.8.1/32`,
    // A live tunnel to a second namespace, for handshake times and byte counters.
    'ip netns add wggns',
    'ip link add wggv1 type veth peer name wggv2 netns wggns',
    'ip addr add 192.168.50.1/24 dev wggv1 && ip link set wggv1 up',
    'ip -n wggns addr add 192.168.50.2/24 dev wggv2 && ip -n wggns link set wggv2 up && ip -n wggns link set lo up',
    'ip link add wgh1 type wireguard && ip -n wggns link add wgh2 type wireguard',
    'k1=$(wg genkey); k2=$(wg genkey)',
    'wg set wgh1 private-key <(echo $k1) listen-port 51001 peer $(echo $k2 | wg pubkey) endpoint 192.168.50.2:51002 allowed-ips 10.9.0.2/32',
    'ip netns exec wggns wg set wgh2 private-key <(echo $k2) listen-port 51002 peer $(echo $k1 | wg pubkey) endpoint 192.168.50.1:51001 allowed-ips 10.9.0.1/32',
    'ip addr add 10.9.0.1/24 dev wgh1 && ip link set wgh1 up',
    'ip -n wggns addr add 10.9.0.2/24 dev wgh2 && ip -n wggns link set wgh2 up',
    'set +e',
  );
  g.section('ping', 'ping -c 3 -W 10 10.9.0.2 >/dev/null');
  g.nlmonStart();
  g.section('wg showconf via nlmon', 'wg showconf wgg0 >/dev/null');
  const capture = g.nlmonStop();
  for (const d of DEVICES)
    g.section(`wg showconf ${d}`, `wg showconf ${d}`).section(`wg dump ${d}`, `wg show ${d} dump`);
  const ops: [string, ...string[]][] = [['status'], ['list'], ['compare-get', capture, 'wgg0']];
  for (const d of DEVICES) ops.push(['showconf', d], ['dump', d]);
  ops.push(['get', 'wggnone'], ['get', 'wggd'], ['get', 'wgg0']);
  const outs = g.batch(ops);
  for (const d of DEVICES) g.section(`wg dump again ${d}`, `wg show ${d} dump`);
  g.section('wg interfaces', 'wg show interfaces');
  const names = ['status', 'list', 'compare-get', ...DEVICES.flatMap((d) => [`showconf ${d}`, `dump ${d}`])];
  names.push('get missing', 'get dummy', 'get wgg0');
  names.forEach((n, i) => {
    g.show(`wgm ${n}`, outs[i]!);
  });

  const { result, s } = await g.boot(600_000);
  assert.equal(
    result.status,
    0,
    `VM run failed (${result.status}):\n${result.stderr}\n${result.stdout.slice(-3000)}`,
  );
  const ok = (name: string) => assert.equal(s.get(`wgm ${name} err`), '', `wgm ${name} failed`);

  await t.test('kernelStatus: the family resolves', () => {
    ok('status');
    assert.equal(s.get('wgm status'), '{"available":true}');
  });

  await t.test('kernelList is what wg show interfaces lists, in its order', () => {
    ok('list');
    assert.deepEqual(JSON.parse(s.get('wgm list')!), s.get('wg interfaces')!.split(' '));
    assert.deepEqual(JSON.parse(s.get('wgm list')!), DEVICES);
  });

  await t.test('wgm sends the GETFAMILY and GET_DEVICE requests wg sends, byte for byte', () => {
    ok('compare-get');
    const c = JSON.parse(s.get('wgm compare-get')!);
    assert.deepEqual(c, { family: { wg: 1, wgm: 1, equal: true }, get: { wg: 1, wgm: 1, equal: true } });
  });

  for (const d of DEVICES) {
    await t.test(`${d}: wgm reads what wg showconf prints`, () => {
      ok(`showconf ${d}`);
      assert.equal(s.get(`wg showconf ${d} status`), '0');
      assert.equal(s.get(`wgm showconf ${d}`), s.get(`wg showconf ${d}`));
    });
    await t.test(`${d}: wgm reads what wg show dump prints`, () => {
      ok(`dump ${d}`);
      const before = s.get(`wg dump ${d}`);
      const after = s.get(`wg dump again ${d}`);
      const ours = s.get(`wgm dump ${d}`);
      // Counters may move between the reads; ours must match one of wg's.
      if (ours !== after) assert.equal(ours, before);
    });
  }

  await t.test('the live tunnel shows a handshake and traffic (so those fields were really decoded)', () => {
    assert.equal(s.get('ping status'), '0', 'ping over the tunnel failed');
    const peer = s.get('wgm dump wgh1')!.split('\n')[1]!.split('\t');
    assert.ok(Number(peer[4]) > 1_600_000_000, `latest handshake ${peer[4]}`);
    assert.ok(Number(peer[5]) > 0 && Number(peer[6]) > 0, `rx ${peer[5]} tx ${peer[6]}`);
  });

  await t.test(
    'wgg1: 3,000 prefixes of one peer, dumped over several messages, come back as one peer',
    () => {
      const conf = s.get('wgm showconf wgg1')!;
      assert.equal((conf.match(/^\[Peer\]$/gm) ?? []).length, 3);
      assert.equal(
        conf
          .split('\n')
          .find((l) => l.startsWith('AllowedIPs'))!
          .split(', ').length,
        3000,
      );
    },
  );

  await t.test('kernelGet errors carry the kernel errno: ENODEV, EOPNOTSUPP', () => {
    assert.match(s.get('wgm get missing err')!, /^errno=19 No such device$/);
    assert.match(s.get('wgm get dummy err')!, /^errno=95 Operation not supported$/);
  });

  await t.test('kernelGet fills name, ifindex, public key and protocol version', () => {
    ok('get wgg0');
    const d = JSON.parse(s.get('wgm get wgg0')!);
    assert.equal(d.name, 'wgg0');
    assert.ok(Number.isInteger(d.ifindex) && d.ifindex > 1);
    assert.equal(d.publicKey, s.get('wg dump wgg0')!.split('\t')[1]);
    assert.deepEqual(
      d.peers.map((p: { protocolVersion: number }) => p.protocolVersion),
      [1, 1, 1, 1],
    );
  });
});
