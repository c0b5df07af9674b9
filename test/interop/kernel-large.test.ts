// 130,000 allowed IPs through the kernel backend (Debian 6.12 kernel in the test VM): wgm's
// kernelSet of the same change stock `wg setconf` applies (three peers: 100,000 IPv4 /32,
// 20,000 IPv6 /128 and 10,000 IPv4 /24) must leave an identical device, with the same ~900
// netlink messages byte for byte (recorded on nlmon); and wgm's kernelGet of that device,
// coalesced from a dump of hundreds of messages, must print as wg showconf does. Timings of
// both tools are reported as diagnostics. One VM boot.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceSpec } from '../vm/guest-ops.js';
import { GuestRun, randomKey } from '../vm/kit.js';

const TOTAL = 130_000;

function change(): { conf: string; spec: DeviceSpec } {
  const a: string[] = [];
  for (let i = 0; i < 100_000; i++) a.push(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`);
  const b: string[] = [];
  for (let i = 0; i < 20_000; i++) b.push(`fd00:1::${i.toString(16)}/128`);
  const c: string[] = [];
  for (let i = 0; i < 10_000; i++) c.push(`11.${i >> 8}.${i & 255}.0/24`);
  const dev = randomKey();
  const peers = [randomKey(), randomKey(), randomKey()];
  const psk = randomKey();
  const conf =
    `[Interface]\nPrivateKey = ${dev}\nListenPort = 51820\n\n` +
    `[Peer]\nPublicKey = ${peers[0]}\nPresharedKey = ${psk}\nEndpoint = 192.0.2.1:51820\nPersistentKeepalive = 25\nAllowedIPs = ${a.join(', ')}\n\n` +
    `[Peer]\nPublicKey = ${peers[1]}\nAllowedIPs = ${b.join(', ')}\n\n` +
    `[Peer]\nPublicKey = ${peers[2]}\nEndpoint = [2001:db8::7]:9\nAllowedIPs = ${c.join(', ')}\n`;
  const spec: DeviceSpec = {
    privateKey: dev,
    listenPort: 51820,
    fwmark: 0,
    replacePeers: true,
    peers: [
      {
        publicKey: peers[0]!,
        presharedKey: psk,
        endpoint: { family: 4, address: '192.0.2.1', port: 51820 },
        keepalive: 25,
        allowedIPs: a,
        replaceAllowedIPs: true,
      },
      { publicKey: peers[1]!, allowedIPs: b, replaceAllowedIPs: true },
      {
        publicKey: peers[2]!,
        endpoint: { family: 6, address: '2001:db8::7', port: 9 },
        allowedIPs: c,
        replaceAllowedIPs: true,
      },
    ],
  };
  return { conf, spec };
}

test('130,000 allowed IPs: kernelSet and kernelGet agree with wg', { timeout: 1_200_000 }, async (t) => {
  const g = GuestRun.start(t);
  if (!g) return;
  const { conf, spec } = change();
  const confFile = g.file('big.conf', conf);
  const specFile = g.file('big.json', JSON.stringify(spec));
  const d = g.dir;

  g.run(
    'set -e',
    'modprobe wireguard',
    'ip link add wgla type wireguard',
    'ip link add wglb type wireguard',
    'set +e',
  );
  g.run('TIMEFORMAT=%R');
  g.nlmonStart();
  g.section('wg setconf', `time wg setconf wgla ${confFile}`);
  const capture = g.nlmonStop();
  const [cmp, set, getA] = g.batch([
    ['compare-set', capture, 'wgla', specFile],
    ['set', 'wglb', specFile],
    ['showconf', 'wgla'],
  ]);
  g.show('compare', cmp!)
    .show('set', set!)
    .run(`echo '=== get ms ==='; cat ${getA}.ms; echo '=== get err ==='; cat ${getA}.err 2>/dev/null; true`);
  g.section('wg showconf', `time wg showconf wgla >${d}/A.conf`);
  g.section('wg showconf B', `wg showconf wglb >${d}/B.conf`);
  g.section('A vs B', `cmp ${d}/A.conf ${d}/B.conf && echo same`);
  g.section('wgm vs wg', `cmp ${getA} ${d}/A.conf && echo same`);
  g.section(
    'A lines',
    `grep -c '^AllowedIPs' ${d}/A.conf; grep '^AllowedIPs' ${d}/A.conf | tr ',' '\\n' | wc -l`,
  );

  // Dumps while another process changes the device twice a second for about 20 s: the kernel
  // flags dumps that overlap a change NLM_F_DUMP_INTR, and kernelGet must restart them until
  // one completes. (Under endless churn no dump completes: wg retries forever, wgm gives up
  // after DUMP_RESTARTS_MAX attempts with EINTR.)
  const churnKey = spec.peers![1]!.publicKey;
  g.run(
    `( for i in $(seq 1 40); do wg set wgla peer ${churnKey} persistent-keepalive $((i % 2 + 1)); sleep 0.5; done ) >/dev/null 2>&1 &`,
    'churn=$!',
  );
  const [raw, busy] = g.batch([
    ['capture-get', 'wgla', '32768'],
    ['showconf', 'wgla'],
  ]);
  g.run('wait $churn');
  g.show('raw busy', raw!).show('busy', busy!);
  g.section(
    'busy lines',
    `grep '^AllowedIPs' ${busy} | tr ',' '\\n' | wc -l; grep -c '^PersistentKeepalive = [12]$' ${busy}`,
  );

  const { result, s } = await g.boot(900_000);
  assert.equal(
    result.status,
    0,
    `VM run failed (${result.status}):\n${result.stderr}\n${result.stdout.slice(-3000)}`,
  );

  await t.test('wg setconf itself worked and the device holds all 130,000 prefixes', () => {
    assert.equal(s.get('wg setconf status'), '0', s.get('wg setconf'));
    assert.equal(s.get('A lines'), `3\n${TOTAL}`);
  });

  await t.test('wgm sends the same messages as wg setconf, byte for byte', () => {
    const text = s.get('compare')!;
    assert.equal(s.get('compare err'), '');
    const c = JSON.parse(text) as { wg: number; wgm: number; equal: boolean };
    assert.ok(c.wg > 500, `only ${c.wg} messages captured`);
    assert.ok(c.equal && c.wg === c.wgm, `${text}\nnlmon: ${s.get('nlmon')}`);
    t.diagnostic(`SET messages: ${c.wg}`);
  });

  await t.test('kernelSet leaves the device wg setconf leaves', () => {
    assert.equal(s.get('set err'), '');
    assert.equal(s.get('A vs B'), 'same');
  });

  await t.test('kernelGet of the 130,000-prefix device prints as wg showconf', () => {
    assert.equal(s.get('get err'), '');
    assert.equal(s.get('wgm vs wg'), 'same');
  });

  await t.test(
    'kernelGet under concurrent changes restarts interrupted dumps and returns all prefixes',
    () => {
      assert.equal(s.get('busy err'), '');
      assert.equal(s.get('busy lines'), `${TOTAL}\n1`);
      const rawDump = JSON.parse(s.get('raw busy')!) as { errno: number; datagrams: string[] };
      t.diagnostic(
        rawDump.errno === 4
          ? `a raw dump during the churn was interrupted (NLM_F_DUMP_INTR) after ${rawDump.datagrams.length} datagrams`
          : 'no raw dump interruption was observed this run',
      );
    },
  );

  const seconds = (x: string | undefined) => x?.trim().split('\n').at(-1);
  t.diagnostic(
    `guest (TCG) wg setconf: ${seconds(s.get('wg setconf'))} s; wgm kernelSet: ${s.get('set ms')}`,
  );
  t.diagnostic(
    `guest (TCG) wg showconf: ${seconds(s.get('wg showconf'))} s; wgm kernelGet: ${s.get('get ms')}`,
  );
});
