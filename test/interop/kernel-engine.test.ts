// wgm-engine against kernel WireGuard (Debian 6.12 kernel in the test VM), in one boot:
// namespace A runs the build's wgm-engine in the foreground (configured with `wgm setconf`),
// namespace B a kernel device (configured with stock `wg setconf`), joined by a veth pair.
// 1. A initiates: pings over IPv4 and IPv6 inner addresses, A to B then B to A. A's endpoint
//    for B is IPv6 and B's for A is IPv4, so B's device ending up with A's IPv6 address shows
//    that the handshake came from A.
// 2. B initiates: B's device is deleted and made afresh (no session, its configured IPv4
//    endpoint for A), B pings first, then A. The engine ending up with B's IPv4 address shows
//    that the new handshake came from B.
// Both sides' `wg show dump` must show a handshake from within each phase.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run, WGM, WGM_ENGINE } from '../lib/run.js';
import { GuestRun, randomKey } from '../vm/kit.js';

function genkey(): { priv: string; pub: string } {
  const priv = run('wg', ['genkey']).stdout.trim();
  return { priv, pub: run('wg', ['pubkey'], { input: `${priv}\n` }).stdout.trim() };
}

/** The peer line of `wg show IF dump` for `pub`, split: [key, psk, endpoint, ips, handshake, rx, tx, keepalive]. */
function peerOf(dump: string | undefined, pub: string): string[] {
  const line = (dump ?? '').split('\n').find((l) => l.startsWith(`${pub}\t`));
  assert.ok(line, `no peer ${pub} in:\n${dump}`);
  return line.split('\t');
}

const A = 'ip netns exec kea';
const B = 'ip netns exec keb';
const PINGS = [
  ['A', A, '10.88.0.2'],
  ['A', A, 'fd88::2'],
  ['B', B, '10.88.0.1'],
  ['B', B, 'fd88::1'],
] as const;

test('wgm-engine and kernel WireGuard ping each other, either side initiating', {
  timeout: 600_000,
}, async (t) => {
  const g = GuestRun.start(t);
  if (!g) return;

  const [a, b] = [genkey(), genkey()];
  const psk = randomKey();
  const confA = g.file(
    'a.conf',
    `[Interface]\nPrivateKey = ${a.priv}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${b.pub}\nPresharedKey = ${psk}\nEndpoint = [fd00:88::2]:51821\nAllowedIPs = 10.88.0.2/32, fd88::2/128\n`,
  );
  const confB = g.file(
    'b.conf',
    `[Interface]\nPrivateKey = ${b.priv}\nListenPort = 51821\n\n[Peer]\nPublicKey = ${a.pub}\nPresharedKey = ${psk}\nEndpoint = 192.168.88.1:51820\nAllowedIPs = 10.88.0.1/32, fd88::1/128\n`,
  );
  const log = `${g.dir}/engine.log`;
  const deviceB = [
    'ip -n keb link add kewb type wireguard',
    `${B} wg setconf kewb ${confB}`,
    'ip -n keb addr add 10.88.0.2/24 dev kewb && ip -n keb addr add fd88::2/64 dev kewb nodad',
    'ip -n keb link set kewb up',
  ].join(' && ');
  g.run(
    'set -e',
    'modprobe wireguard',
    'modprobe tun 2>/dev/null || true',
    'ip netns add kea && ip netns add keb',
    'ip -n kea link set lo up && ip -n keb link set lo up',
    'ip link add kva netns kea type veth peer name kvb netns keb',
    'ip -n kea addr add 192.168.88.1/24 dev kva && ip -n kea addr add fd00:88::1/64 dev kva nodad',
    'ip -n keb addr add 192.168.88.2/24 dev kvb && ip -n keb addr add fd00:88::2/64 dev kvb nodad',
    'ip -n kea link set kva up && ip -n keb link set kvb up',
    'set +e',
    't0=$(date +%s%N)',
    `${A} node ${WGM_ENGINE} -f kewa >${log} 2>&1 &`,
    'engine_pid=$!',
  );
  // Bounded wait for the engine's UAPI socket (node starts slowly under TCG).
  g.section(
    'engine start',
    `for _ in $(seq 1 600); do ${A} wg show kewa >/dev/null 2>&1 && break; kill -0 $engine_pid 2>/dev/null || break; sleep 0.1; done; ` +
      `${A} wg show kewa >/dev/null && echo $(( ($(date +%s%N) - t0) / 1000000 ))`,
  );
  g.section('setconf A', `${A} node ${WGM} setconf kewa ${confA}`);
  g.section(
    'setup A',
    'ip -n kea addr add 10.88.0.1/24 dev kewa && ip -n kea addr add fd88::1/64 dev kewa nodad && ip -n kea link set kewa up',
  );
  g.section('setup B', deviceB);
  const phase = (n: number, order: readonly (typeof PINGS)[number][]) => {
    g.section(`phase ${n} start`, 'date +%s');
    for (const [who, ns, dst] of order)
      g.section(`phase ${n} ${who} ping ${dst}`, `${ns} ping -c 3 -i 0.3 -w 30 ${dst}`);
    g.section(`phase ${n} dump A`, `${A} wg show kewa dump`);
    g.section(`phase ${n} dump B`, `${B} wg show kewb dump`);
  };
  phase(1, PINGS);
  g.section('fresh B', `ip -n keb link del kewb && ${deviceB}`);
  phase(2, [PINGS[2], PINGS[3], PINGS[0], PINGS[1]]);
  g.section('engine alive', 'kill -0 $engine_pid');
  g.run('kill $engine_pid; wait $engine_pid', `echo '=== engine log ==='; cat ${log}`);

  const started = Date.now();
  const { result, s } = await g.boot(600_000);
  t.diagnostic(`VM run: ${Date.now() - started} ms`);
  assert.equal(
    result.status,
    0,
    `VM run failed (${result.status}):\n${result.stderr}\n${result.stdout.slice(-3000)}`,
  );

  await t.test('wgm-engine starts in the guest and answers on its UAPI socket', () => {
    assert.equal(
      s.get('engine start status'),
      '0',
      `engine did not come up; its output:\n${s.get('engine log')}`,
    );
    t.diagnostic(`wgm-engine answered after ${s.get('engine start')} ms (TCG)`);
  });

  await t.test('wgm setconf configures the engine; both devices come up', () => {
    assert.equal(s.get('setconf A status'), '0', s.get('setconf A'));
    assert.equal(s.get('setup A status'), '0', s.get('setup A'));
    assert.equal(s.get('setup B status'), '0', s.get('setup B'));
  });

  for (const n of [1, 2]) {
    const order = n === 1 ? PINGS : [PINGS[2], PINGS[3], PINGS[0], PINGS[1]];
    for (const [who, , dst] of order) {
      await t.test(`phase ${n}: ${who} pings ${dst} over the tunnel`, () => {
        const name = `phase ${n} ${who} ping ${dst}`;
        assert.equal(s.get(`${name} status`), '0', `${s.get(name)}\nengine log:\n${s.get('engine log')}`);
        const rtt = /rtt min\/avg\/max\/mdev = ([0-9./]+) ms/.exec(s.get(name)!);
        t.diagnostic(`${name}: rtt min/avg/max/mdev ${rtt?.[1]} ms`);
      });
    }
  }

  await t.test('phase 1: A initiated (B learnt A over IPv6); handshakes on both sides', () => {
    const since = Number(s.get('phase 1 start'));
    const pa = peerOf(s.get('phase 1 dump A'), b.pub);
    const pb = peerOf(s.get('phase 1 dump B'), a.pub);
    assert.equal(pb[2], '[fd00:88::1]:51820');
    assert.equal(pa[2], '[fd00:88::2]:51821');
    for (const p of [pa, pb]) {
      assert.ok(Number(p[4]) >= since, `latest handshake ${p[4]} before phase start ${since}`);
      assert.ok(Number(p[5]) > 0 && Number(p[6]) > 0, `transfer ${p[5]} ${p[6]}`);
    }
  });

  await t.test('phase 2: fresh B initiated (the engine learnt B over IPv4); new handshakes', () => {
    assert.equal(s.get('fresh B status'), '0', s.get('fresh B'));
    const since = Number(s.get('phase 2 start'));
    const pa = peerOf(s.get('phase 2 dump A'), b.pub);
    const pb = peerOf(s.get('phase 2 dump B'), a.pub);
    assert.equal(pa[2], '192.168.88.2:51821');
    assert.equal(pb[2], '192.168.88.1:51820');
    for (const p of [pa, pb]) assert.ok(Number(p[4]) >= since, `latest handshake ${p[4]} before ${since}`);
  });

  await t.test('the engine was still running at the end', () => {
    assert.equal(s.get('engine alive status'), '0', s.get('engine log'));
  });
});
