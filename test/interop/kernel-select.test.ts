// Endpoint selection against kernel WireGuard (Debian 6.12 kernel in the test VM), in one boot:
// namespace A runs the build's wgm-engine with two `Endpoint` lines for B, one per veth pair
// between A and B; B is a kernel device with one peer and no endpoint (it follows by roaming).
// 1. First contact with the first candidate dead (B has no address on path 1): traffic flows
//    over path 2. (The engine is warmed up first by a handshake with another kernel device.)
// 2. Failover: under pings every 100 ms, path 2 dies (B's address on it removed, so neither
//    side can use it) and path 1 comes alive (B's address added): traffic comes back over path 1,
//    and the kernel's endpoint for A follows.
// Bounds are generous (QEMU without KVM runs the engine several times slower than the host)
// but below what round-robin over the candidates takes (REKEY_TIMEOUT, 5 s, per unanswered
// candidate; after a silent path, KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, 15 s); the host's bench
// (test/bench/select.ts) measures the tight figures against wireguard-go.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run, WGM, WGM_ENGINE } from '../lib/run.js';
import { GuestRun } from '../vm/kit.js';

function genkey(): { priv: string; pub: string } {
  const priv = run('wg', ['genkey']).stdout.trim();
  return { priv, pub: run('wg', ['pubkey'], { input: `${priv}\n` }).stdout.trim() };
}

const A = 'ip netns exec ksa';
const B = 'ip netns exec ksb';

/** Replies from `ping -D` output: arrival and send time, seconds. */
function replies(log: string | undefined): { t: number; sent: number }[] {
  return [...(log ?? '').matchAll(/^\[(\d+\.\d+)\] \d+ bytes from .* time=([\d.]+) ms/gm)].map((m) => ({
    t: Number(m[1]),
    sent: Number(m[1]) - Number(m[2]) / 1000,
  }));
}

test('wgm-engine toward kernel WireGuard: a dead first candidate, then failover to it', {
  timeout: 600_000,
}, async (t) => {
  const g = GuestRun.start(t);
  if (!g) return;
  // c: a second kernel device on B that warms the engine up (its first handshake and packets
  // under QEMU pay seconds of JIT compilation) before the measured first contact with b.
  const [a, b, c] = [genkey(), genkey(), genkey()];
  const confA = g.file(
    'a.conf',
    `[Interface]\nPrivateKey = ${a.priv}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${b.pub}\nAllowedIPs = 10.89.0.2/32\nEndpoint = 192.168.91.2:51821\nEndpoint = 192.168.92.2:51821\n\n[Peer]\nPublicKey = ${c.pub}\nAllowedIPs = 10.90.0.2/32\nEndpoint = 192.168.92.2:51822\n`,
  );
  const bKey = g.file('b.key', `${b.priv}\n`);
  const cKey = g.file('c.key', `${c.priv}\n`);
  const log = `${g.dir}/engine.log`;
  const pingLog = `${g.dir}/ping.log`;
  g.run(
    'set -e',
    'modprobe wireguard',
    'modprobe tun 2>/dev/null || true',
    'ip netns add ksa && ip netns add ksb',
    'ip -n ksa link set lo up && ip -n ksb link set lo up',
    'ip link add ksv1 netns ksa type veth peer name ksw1 netns ksb',
    'ip link add ksv2 netns ksa type veth peer name ksw2 netns ksb',
    'ip -n ksa addr add 192.168.91.1/24 dev ksv1 && ip -n ksa addr add 192.168.92.1/24 dev ksv2',
    // Path 1 is dead at first: B has no address on it.
    'ip -n ksb addr add 192.168.92.2/24 dev ksw2',
    'for l in ksv1 ksv2; do ip -n ksa link set $l up; done',
    'for l in ksw1 ksw2; do ip -n ksb link set $l up; done',
    'ip -n ksb link add kswb type wireguard',
    `${B} wg set kswb private-key ${bKey} listen-port 51821 peer ${a.pub} allowed-ips 10.89.0.1/32`,
    'ip -n ksb addr add 10.89.0.2/24 dev kswb && ip -n ksb link set kswb up',
    'ip -n ksb link add kswc type wireguard',
    `${B} wg set kswc private-key ${cKey} listen-port 51822 peer ${a.pub} allowed-ips 10.90.0.1/32`,
    'ip -n ksb addr add 10.90.0.2/24 dev kswc && ip -n ksb link set kswc up',
    'set +e',
    `${A} node ${WGM_ENGINE} -f kswa >${log} 2>&1 &`,
    'engine_pid=$!',
  );
  g.section(
    'engine start',
    `for _ in $(seq 1 600); do ${A} wg show kswa >/dev/null 2>&1 && break; kill -0 $engine_pid 2>/dev/null || break; sleep 0.1; done; ${A} wg show kswa >/dev/null`,
  );
  g.section(
    'setup A',
    `${A} node ${WGM} setconf kswa ${confA} && ip -n ksa addr add 10.89.0.1/24 dev kswa && ip -n ksa addr add 10.90.0.1/24 dev kswa && ip -n ksa link set kswa up`,
  );
  g.section('warm-up', `${A} ping -c 3 -i 0.3 -w 60 10.90.0.2 && ${A} wg set kswa peer ${c.pub} remove`);
  g.run(
    "echo '=== ping start ==='; date +%s.%N",
    `${A} ping -D -n -i 0.1 -W 1 -w 90 10.89.0.2 >${pingLog} 2>&1 &`,
    'ping_pid=$!',
    `for _ in $(seq 1 300); do grep -q 'bytes from' ${pingLog} && break; sleep 0.1; done; sleep 3`,
  );
  g.section('endpoints before A', `${A} wg show kswa endpoints`);
  g.section('endpoints before B', `${B} wg show kswb endpoints`);
  g.section(
    'cut',
    // The time after the change: `ip` itself takes tens of ms under QEMU.
    'ip -n ksb addr del 192.168.92.2/24 dev ksw2 && ip -n ksb addr add 192.168.91.2/24 dev ksw1; date +%s.%N',
  );
  g.run('sleep 20', 'kill -INT $ping_pid; wait $ping_pid');
  g.section('ping', `cat ${pingLog}`);
  g.section('endpoints after A', `${A} wg show kswa endpoints`);
  g.section('endpoints after B', `${B} wg show kswb endpoints`);
  g.section('candidates', `${A} node ${WGM} show kswa`);
  g.run('kill $engine_pid; wait $engine_pid', `echo '=== engine log ==='; cat ${log}`);

  const { result, s } = await g.boot(600_000);
  assert.equal(
    result.status,
    0,
    `VM run failed (${result.status}):\n${result.stderr}\n${result.stdout.slice(-3000)}`,
  );
  assert.equal(s.get('engine start status'), '0', `engine did not come up:\n${s.get('engine log')}`);
  assert.equal(s.get('setup A status'), '0', s.get('setup A'));
  assert.equal(s.get('warm-up status'), '0', `warm-up handshake failed:\n${s.get('warm-up')}`);
  const pingStart = Number(s.get('ping start'));
  const cut = Number(s.get('cut')?.trim().split('\n').at(-1));
  const stamps = replies(s.get('ping'));
  t.diagnostic(
    `active endpoint before the cut: ${s.get('endpoints before A')}, after: ${s.get('endpoints after A')}`,
  );
  t.diagnostic(`candidates at the end:\n${s.get('candidates')}`);

  await t.test('first contact with the first candidate dead: traffic over the second', () => {
    assert.ok(stamps.length > 0, `no reply at all:\n${s.get('ping')}\n${s.get('engine log')}`);
    const first = stamps[0]!.t - pingStart;
    t.diagnostic(`first reply ${(first * 1000).toFixed(0)} ms after ping started`);
    assert.ok(first < 4.5, `first traffic after ${first.toFixed(2)} s (bound 4.5 s, target 1.5 s)`);
    assert.match(s.get('endpoints before A') ?? '', /\t192\.168\.92\.2:51821$/m);
    assert.match(s.get('endpoints before B') ?? '', /\t192\.168\.92\.1:51820$/m);
  });

  await t.test('the active path dies, the other comes alive: traffic over it, the kernel follows', () => {
    // A reply to an echo sent after the cut came over the new path.
    const back = stamps.find((x) => x.sent > cut);
    assert.ok(back, `no traffic after the cut:\n${s.get('ping')}\n${s.get('engine log')}`);
    const outage = back.t - cut;
    t.diagnostic(`traffic back ${(outage * 1000).toFixed(0)} ms after the cut`);
    assert.ok(outage < 8, `traffic back after ${outage.toFixed(2)} s (bound 8 s, target 3 s)`);
    assert.match(s.get('endpoints after A') ?? '', /\t192\.168\.91\.2:51821$/m);
    assert.match(s.get('endpoints after B') ?? '', /\t192\.168\.91\.1:51820$/m);
  });
});
