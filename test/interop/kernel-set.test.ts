// kernelSet against stock wg on real kernel WireGuard (Debian 6.12 kernel in the test VM).
//
// Each scenario uses a pair of fresh devices that start equal: stock wg applies a change to
// device A (wg setconf / addconf / set), wgm's kernelSet applies the equivalent Device to
// device B, and `wg showconf` of both must be identical. The devices stay down, so equal
// listen ports do not clash. While wg runs, an nlmon device records its netlink messages, and
// wgm's encoder must produce the same bytes for the same change (only sequence numbers differ).
// One VM boot for the whole file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceSpec } from '../vm/guest-ops.js';
import { GuestRun, randomKey } from '../vm/kit.js';

const K = {
  dev: randomKey(),
  p1: randomKey(),
  p2: randomKey(),
  p3: randomKey(),
  p4: randomKey(),
  p5: randomKey(),
  psk: randomKey(),
};
const ZERO = Buffer.alloc(32).toString('base64');

const BASE = `[Interface]
PrivateKey = ${K.dev}
ListenPort = 51820
FwMark = 0x42

[Peer]
PublicKey = ${K.p1}
PresharedKey = ${K.psk}
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25
AllowedIPs = 10.0.0.0/24, fd00::/64

[Peer]
PublicKey = ${K.p2}
Endpoint = [fe80::1%lo]:443
AllowedIPs = 10.0.1.0/24

[Peer]
PublicKey = ${K.p3}
AllowedIPs = 0.0.0.0/0, ::/0
`;

const BASE_SPEC: DeviceSpec = {
  privateKey: K.dev,
  listenPort: 51820,
  fwmark: 0x42,
  replacePeers: true,
  peers: [
    {
      publicKey: K.p1,
      presharedKey: K.psk,
      endpoint: { family: 4, address: '192.0.2.1', port: 51820 },
      keepalive: 25,
      allowedIPs: ['10.0.0.0/24', 'fd00::/64'],
      replaceAllowedIPs: true,
    },
    {
      publicKey: K.p2,
      endpoint: { family: 6, address: 'fe80::1', port: 443, scope: 'lo' },
      allowedIPs: ['10.0.1.0/24'],
      replaceAllowedIPs: true,
    },
    { publicKey: K.p3, allowedIPs: ['0.0.0.0/0', '::/0'], replaceAllowedIPs: true },
  ],
};

/** 2,000 prefixes on one peer and two peers after it: several 4 KiB messages. */
function splitConf(): { conf: string; spec: DeviceSpec } {
  const ips: string[] = [];
  for (let i = 0; i < 2000; i++)
    ips.push(i % 4 === 3 ? `fd01::${i.toString(16)}/128` : `10.${i >> 8}.${i & 255}.0/24`);
  const conf = `[Interface]\nPrivateKey = ${K.dev}\n\n[Peer]\nPublicKey = ${K.p1}\nPresharedKey = ${K.psk}\nEndpoint = 192.0.2.1:1\nAllowedIPs = ${ips.join(', ')}\n\n[Peer]\nPublicKey = ${K.p2}\nAllowedIPs = 172.16.0.0/12\n\n[Peer]\nPublicKey = ${K.p3}\n`;
  const spec: DeviceSpec = {
    privateKey: K.dev,
    listenPort: 0,
    fwmark: 0,
    replacePeers: true,
    peers: [
      {
        publicKey: K.p1,
        presharedKey: K.psk,
        endpoint: { family: 4, address: '192.0.2.1', port: 1 },
        allowedIPs: ips,
        replaceAllowedIPs: true,
      },
      { publicKey: K.p2, allowedIPs: ['172.16.0.0/12'], replaceAllowedIPs: true },
      { publicKey: K.p3, replaceAllowedIPs: true },
    ],
  };
  return { conf, spec };
}

interface Scenario {
  name: string;
  /** Applied with `wg setconf` to both devices before the change. */
  base?: string;
  /** The wg command for device A (`A` is replaced by its name; `CONF` by the config file). */
  wg?: string;
  conf?: string;
  spec: DeviceSpec;
  /** Compare wg's messages with wgm's byte for byte. */
  bytes: boolean;
}

const split = splitConf();
const SCENARIOS: Scenario[] = [
  { name: 'setconf', wg: 'wg setconf A CONF', conf: BASE, spec: BASE_SPEC, bytes: true },
  {
    name: 'addconf',
    base: BASE,
    wg: 'wg addconf A CONF',
    conf: `[Peer]\nPublicKey = ${K.p1}\nEndpoint = 198.51.100.7:1234\nAllowedIPs = 10.0.0.0/24, 10.0.9.0/24\n\n[Peer]\nPublicKey = ${K.p4}\nAllowedIPs = 10.0.4.0/24\nPersistentKeepalive = 0\n`,
    spec: {
      peers: [
        {
          publicKey: K.p1,
          endpoint: { family: 4, address: '198.51.100.7', port: 1234 },
          allowedIPs: ['10.0.0.0/24', '10.0.9.0/24'],
          replaceAllowedIPs: true,
        },
        { publicKey: K.p4, allowedIPs: ['10.0.4.0/24'], keepalive: 0, replaceAllowedIPs: true },
      ],
    },
    bytes: true,
  },
  {
    name: 'set-peers',
    base: BASE,
    wg: `wg set A peer ${K.p2} remove peer ${K.p1} persistent-keepalive off allowed-ips '' peer ${K.p3} preshared-key /dev/null`,
    spec: {
      peers: [
        { publicKey: K.p2, remove: true },
        { publicKey: K.p1, keepalive: 0, allowedIPs: [], replaceAllowedIPs: true },
        { publicKey: K.p3, presharedKey: ZERO },
      ],
    },
    bytes: true,
  },
  {
    name: 'set-device',
    base: BASE,
    wg: 'wg set A listen-port 51999 fwmark 0 private-key /dev/null',
    spec: { privateKey: ZERO, listenPort: 51999, fwmark: 0 },
    bytes: true,
  },
  { name: 'split', wg: 'wg setconf A CONF', conf: split.conf, spec: split.spec, bytes: true },
  {
    // No wg equivalent: wg never sends UPDATE_ONLY. Updating a known peer must work; an
    // unknown peer must not be created.
    name: 'update-only',
    base: BASE,
    wg: `wg set A peer ${K.p1} persistent-keepalive 7`,
    spec: {
      peers: [
        { publicKey: K.p1, keepalive: 7, updateOnly: true },
        { publicKey: K.p5, allowedIPs: ['10.5.0.0/16'], updateOnly: true },
      ],
    },
    bytes: false,
  },
];

test('kernelSet matches stock wg on kernel WireGuard', { timeout: 900_000 }, async (t) => {
  const g = GuestRun.start(t);
  if (!g) return;

  const names = SCENARIOS.map((_, i) => [`wgsa${i}`, `wgsb${i}`] as const);
  g.run('set -e', 'modprobe wireguard', 'ip link add wgsdummy type dummy');
  const base = g.file('base.conf', BASE);
  g.run('ip link add wgsra type wireguard', 'ip link add wgsrb type wireguard');
  g.run(`wg setconf wgsra ${base}`, `wg setconf wgsrb ${base}`);
  SCENARIOS.forEach((sc, i) => {
    const [a, b] = names[i]!;
    g.run(`ip link add ${a} type wireguard`, `ip link add ${b} type wireguard`);
    if (sc.base) {
      const file = g.file(`base${i}.conf`, sc.base);
      g.run(`wg setconf ${a} ${file}`, `wg setconf ${b} ${file}`);
    }
  });
  g.run('set +e').nlmonStart();
  SCENARIOS.forEach((sc, i) => {
    if (!sc.wg) return;
    const conf = sc.conf ? g.file(`change${i}.conf`, sc.conf) : '';
    g.section(`wg ${sc.name}`, sc.wg.replace(/\bA\b/, names[i]![0]).replace('CONF', conf));
  });
  const capture = g.nlmonStop();
  const ops: [string, ...string[]][] = [];
  SCENARIOS.forEach((sc, i) => {
    const spec = g.file(`spec${i}.json`, JSON.stringify(sc.spec));
    ops.push(['set', names[i]![1], spec]);
    if (sc.bytes) ops.push(['compare-set', capture, names[i]![0], spec]);
  });
  const removal = g.file(
    'remove.json',
    JSON.stringify({ peers: [{ publicKey: K.p1, allowedIPs: ['-10.0.0.0/24'] }] }),
  );
  const plain = g.file('plain.json', JSON.stringify({ listenPort: 1 }));
  ops.push(['set', 'wgsnone', plain], ['set', 'wgsdummy', plain]);
  // The allowed-IP removal flag is newer than this kernel: see what it does with it.
  ops.push(['set', 'wgsrb', removal]);
  const outs = g.batch(ops);
  let o = 0;
  SCENARIOS.forEach((sc, i) => {
    g.show(`set ${sc.name}`, outs[o++]!);
    if (sc.bytes) g.show(`compare ${sc.name}`, outs[o++]!);
    if (i !== 1) {
      g.section(`A ${sc.name}`, `wg showconf ${names[i]![0]}`).section(
        `B ${sc.name}`,
        `wg showconf ${names[i]![1]}`,
      );
    }
  });
  g.show('missing', outs[o++]!).show('dummy', outs[o++]!).show('removal', outs[o++]!);
  g.section('A removal', 'wg showconf wgsra').section('B removal', 'wg showconf wgsrb');

  const { result, s } = await g.boot(600_000);
  assert.equal(
    result.status,
    0,
    `VM run failed (${result.status}):\n${result.stderr}\n${result.stdout.slice(-3000)}`,
  );

  for (const sc of SCENARIOS) {
    await t.test(`${sc.name}: wg showconf is the same after wg and after wgm`, () => {
      assert.equal(s.get(`wg ${sc.name} status`), '0', `wg failed: ${s.get(`wg ${sc.name}`)}`);
      assert.equal(s.get(`set ${sc.name} err`), '', 'kernelSet failed');
      assert.equal(s.get(`B ${sc.name}`), s.get(`A ${sc.name}`));
    });
    if (sc.bytes) {
      await t.test(`${sc.name}: wgm sends the same netlink messages as wg, byte for byte`, () => {
        const text = s.get(`compare ${sc.name}`)!;
        const c = JSON.parse(text) as { wg: number; wgm: number; equal: boolean };
        assert.ok(c.wg > 0, 'no wg messages were captured');
        assert.ok(c.equal && c.wg === c.wgm, `${text}\nnlmon: ${s.get('nlmon')}`);
      });
    }
  }

  await t.test('the split scenario really took several messages', () => {
    const c = JSON.parse(s.get('compare split')!) as { wg: number };
    assert.ok(c.wg >= 10, `${c.wg} messages`);
  });

  await t.test('errors come back as the kernel errno: ENODEV, EOPNOTSUPP', () => {
    assert.match(s.get('missing err')!, /^errno=19 No such device$/);
    assert.match(s.get('dummy err')!, /^errno=95 Operation not supported$/);
  });

  await t.test('an allowed-IP removal is never silently ignored: refused (EINVAL) or done', () => {
    const err = s.get('removal err')!;
    const b = s.get('B removal')!;
    if (err !== '') {
      // This kernel predates WGALLOWEDIP_A_FLAGS: it refuses, and nothing changed.
      assert.match(err, /^errno=22 Invalid argument$/);
      assert.equal(b, s.get('A removal'));
      t.diagnostic('kernel 6.12 refuses WGALLOWEDIP_F_REMOVE_ME with EINVAL');
    } else {
      assert.equal(b, s.get('A removal')!.replace('10.0.0.0/24, ', ''));
    }
  });

  await t.test('update-only left the unknown peer out', () => {
    assert.doesNotMatch(s.get('B update-only')!, new RegExp(K.p5.replace(/[+/]/g, '\\$&')));
  });
});
