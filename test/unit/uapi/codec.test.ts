// The UAPI codec (wireguard-go device/uapi.go: IpcGetOperation, IpcSetOperation; docs/uapi-extensions.md): wg's reading rules for get replies,
// wg's writing of set requests, wireguard-go's reading of them, the errno lines, the extension
// keys both ways, and a fuzz run that only ever sees WgError.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyFromBase64, keyToHex } from '../../../src/crypto/keys.js';
import { publicKeyOf } from '../../../src/crypto/x25519.js';
import { isWgError } from '../../../src/model/errors.js';
import { type Device, newDevice, newPeer, wgEndpoint } from '../../../src/model/index.js';
import { SetReplyDecoder } from '../../../src/uapi/errno.js';
import { decodeGetReply, encodeGetReply, GetReplyDecoder } from '../../../src/uapi/get.js';
import { LineSplitter } from '../../../src/uapi/lines.js';
import { decodeSetRequest, encodeSetRequest, SetRequestDecoder } from '../../../src/uapi/set.js';

const PRIV = keyFromBase64('cMlovxlOiyfJqLWtbmrh5LUEh+fuerBmgi2VX6tzMHE=')!;
const PUB1 = keyFromBase64('Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=')!;
const PUB2 = keyFromBase64('hiw3p78SJr2xQE/HLutafQQlVvyRmJWfuoDlXvyCeCc=')!;
const PSK = keyFromBase64('4TEGXX3GBRHJzIZAzAVd0qF8g6SWu3ptGSFCEsy8mLQ=')!;
const H = (k: Uint8Array) => keyToHex(k);

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    assert.ok(isWgError(e), `not a WgError: ${e}`);
    return e.errno;
  }
  return undefined;
}

/** A reply as wireguard-go writes it (the order recorded from wireguard-go 0.0.20220316's IpcGetOperation). */
const GO_REPLY = [
  `private_key=${H(PRIV)}`,
  'listen_port=51001',
  `public_key=${H(PUB1)}`,
  `preshared_key=${H(PSK)}`,
  'protocol_version=1',
  'endpoint=127.0.0.1:51002',
  'last_handshake_time_sec=1795558176',
  'last_handshake_time_nsec=123',
  'tx_bytes=404',
  'rx_bytes=92',
  'persistent_keepalive_interval=0',
  'allowed_ip=10.0.0.2/32',
  'allowed_ip=fd00::2/128',
  `public_key=${H(PUB2)}`,
  `preshared_key=${'0'.repeat(64)}`,
  'protocol_version=1',
  'endpoint=[::1]:51003',
  'last_handshake_time_sec=0',
  'last_handshake_time_nsec=0',
  'tx_bytes=296',
  'rx_bytes=0',
  'persistent_keepalive_interval=25',
  'allowed_ip=10.0.3.0/24',
  'errno=0',
  '',
  '',
].join('\n');

test('get: a wireguard-go reply decodes into the model, public key derived', () => {
  const { device, ext } = decodeGetReply(GO_REPLY);
  assert.deepEqual(device.privateKey, PRIV);
  assert.deepEqual(device.publicKey, publicKeyOf(PRIV));
  assert.equal(device.listenPort, 51001);
  assert.equal(device.fwmark, undefined);
  assert.equal(device.peers.length, 2);
  const [a, b] = device.peers;
  assert.deepEqual(a!.presharedKey, PSK);
  assert.deepEqual(a!.endpoints, [{ addr: { family: 4, address: '127.0.0.1', port: 51002 } }]);
  assert.deepEqual(a!.lastHandshake, { sec: 1795558176n, nsec: 123 });
  assert.equal(a!.rxBytes, 92n);
  assert.equal(a!.txBytes, 404n);
  assert.equal(a!.allowedIPs.length, 2);
  assert.equal(b!.presharedKey, undefined, 'an all-zero PSK is no PSK');
  assert.equal(b!.persistentKeepalive, 25);
  assert.deepEqual(wgEndpoint(b!), { family: 6, address: '::1', port: 51003 });
  assert.deepEqual(ext, { capabilities: [] });
});

test('get: the encoder writes what the decoder reads (round trip), in wireguard-go order', () => {
  const { device } = decodeGetReply(GO_REPLY);
  const text = [...encodeGetReply(device)].join('');
  assert.equal(text, GO_REPLY);
  const again = decodeGetReply(text).device;
  assert.deepEqual(again, device);
});

test("get: wg's rules: device keys only before the first peer, unknown keys ignored, errno anywhere", () => {
  const r = decodeGetReply(
    [
      'errno=0',
      'unknown_device_key=1',
      `public_key=${H(PUB1)}`,
      'listen_port=7',
      'future_peer_key=x',
      `private_key=${H(PRIV)}`,
      'protocol_version=whatever',
      '',
    ].join('\n') + '\n',
  );
  assert.equal(r.device.listenPort, undefined);
  assert.equal(r.device.privateKey, undefined);
  assert.equal(r.device.peers.length, 1);
  // Peer keys before any public_key are ignored too.
  assert.equal(decodeGetReply('rx_bytes=5\nendpoint=garbage\nerrno=0\n\n').device.peers.length, 0);
  // Duplicate public keys give duplicate peers (no coalescing over UAPI).
  assert.equal(
    decodeGetReply(`public_key=${H(PUB1)}\npublic_key=${H(PUB1)}\nerrno=0\n\n`).device.peers.length,
    2,
  );
});

test('get: errno is mandatory and unsigned; the reply errno is reported; last one wins', () => {
  assert.equal(
    errnoOf(() => decodeGetReply('listen_port=1\n\n')),
    71,
  );
  assert.equal(
    errnoOf(() => decodeGetReply('errno=22\n\n')),
    22,
  );
  assert.equal(
    errnoOf(() => decodeGetReply('errno=-22\n\n')),
    71,
  );
  assert.equal(
    errnoOf(() => decodeGetReply('errno=0\nerrno=5\n\n')),
    5,
  );
  assert.equal(
    errnoOf(() => decodeGetReply('errno=5\nerrno=0\n\n')),
    undefined,
  );
  assert.equal(
    errnoOf(() => decodeGetReply('errno=2147483648\n\n')),
    71,
  );
  assert.equal(
    errnoOf(() => decodeGetReply('errno=0\n')),
    71,
    'no empty line: truncated',
  );
  assert.equal(
    errnoOf(() => decodeGetReply('errno=0')),
    71,
  );
});

test('get: malformed values are EPROTO, exactly where wg fails', () => {
  const peer = `public_key=${H(PUB1)}\n`;
  const bad = [
    'listen_port=65536',
    'listen_port=+5',
    'listen_port= 5',
    'listen_port=',
    'fwmark=4294967296',
    'private_key=abc',
    `private_key=${'g'.repeat(64)}`,
    'errno=0\r',
    'no equals sign',
    'errno=0\u0000',
    `${peer}persistent_keepalive_interval=65536`,
    `${peer}last_handshake_time_sec=9223372036854775808`,
    `${peer}rx_bytes=-1`,
    `${peer}allowed_ip=10.0.0.0`,
    `${peer}allowed_ip=10.0.0.0/33`,
    `${peer}allowed_ip=::/129`,
    `${peer}allowed_ip=010.0.0.0/8`,
    `${peer}allowed_ip=10.0.0.0/ 8`,
    `${peer}endpoint=`,
    `${peer}endpoint=1.2.3.4`,
    `${peer}endpoint=1.2.3.4:`,
    `${peer}endpoint=[::1:5`,
    `${peer}endpoint=[::1]5`,
    `${peer}endpoint=example.invalid:5`,
    `${peer}preshared_key=${'0'.repeat(63)}`,
    `public_key=${'0'.repeat(65)}`,
  ];
  for (const line of bad)
    assert.equal(
      errnoOf(() => decodeGetReply(`${line}\nerrno=0\n\n`)),
      71,
      line,
    );
  // wg's uint8_t cidr: `/256` wraps to 0 and is accepted; rx_bytes saturates at 2^64-1.
  const quirks = decodeGetReply(
    `${peer}allowed_ip=10.0.0.0/256\nrx_bytes=99999999999999999999999\nerrno=0\n\n`,
  );
  assert.equal(quirks.device.peers[0]!.allowedIPs[0]!.cidr, 0);
  assert.equal(quirks.device.peers[0]!.rxBytes, (1n << 64n) - 1n);
});

test('get: numeric endpoint forms getaddrinfo accepts are normalised; unbracketed IPv6 splits at the last colon', () => {
  const one = (v: string) =>
    decodeGetReply(`public_key=${H(PUB1)}\nendpoint=${v}\nerrno=0\n\n`).device.peers[0]!.endpoints[0]!.addr;
  assert.deepEqual(one('127.1:5'), { family: 4, address: '127.0.0.1', port: 5 });
  assert.deepEqual(one('::1:5'), { family: 6, address: '::1', port: 5 });
  assert.deepEqual(one('[1.2.3.4]:5'), { family: 4, address: '1.2.3.4', port: 5 });
  assert.deepEqual(one('[fe80::1%7]:70000'), { family: 6, address: 'fe80::1', port: 4464, scope: '7' });
  assert.deepEqual(one('[2001:DB8::0:1]:+5'), { family: 6, address: '2001:db8::1', port: 5 });
});

test('get: the extension keys (docs/uapi-extensions.md): implementation, capabilities, candidates with state', () => {
  const text = [
    `private_key=${H(PRIV)}`,
    'wgm_implementation=wgm-engine/0.1.0',
    'wgm_capabilities=multi_endpoint,future_thing',
    `public_key=${H(PUB1)}`,
    'endpoint=[2001:db8::1]:51820',
    'wgm_endpoint=192.0.2.1:51820',
    'wgm_endpoint_state=standby',
    'wgm_endpoint_rtt_us=12500',
    'wgm_endpoint=[2001:db8::1]:51820',
    'wgm_endpoint_state=active',
    'wgm_endpoint_last_seen_sec=1700000000',
    'wgm_endpoint=198.51.100.1:1',
    'wgm_endpoint_state=someday',
    'wgm_implementation=ignored-after-a-peer',
    'errno=0',
    '',
  ].join('\n');
  const { device, ext } = decodeGetReply(`${text}\n`);
  assert.deepEqual(ext, {
    implementation: 'wgm-engine/0.1.0',
    capabilities: ['multi_endpoint', 'future_thing'],
  });
  const p = device.peers[0]!;
  assert.equal(p.endpoints.length, 3, 'endpoints hold every candidate in order');
  assert.deepEqual(p.endpointStates, [
    { addr: { family: 4, address: '192.0.2.1', port: 51820 }, state: 'standby', rttMs: 12.5 },
    { addr: { family: 6, address: '2001:db8::1', port: 51820 }, state: 'active', lastSeenSec: 1700000000 },
    { addr: { family: 4, address: '198.51.100.1', port: 1 }, state: 'unknown' },
  ]);
  assert.deepEqual(
    wgEndpoint(p),
    { family: 6, address: '2001:db8::1', port: 51820 },
    'shown endpoint = endpoint=',
  );
  // And back: the server side writes the same keys, which decode to the same device.
  const again = decodeGetReply([...encodeGetReply(device, ext)].join(''));
  assert.deepEqual(again.device.peers[0]!.endpointStates, p.endpointStates);
  assert.deepEqual(again.ext, ext);
  // Without ext, a server writes stock keys only.
  assert.ok(![...encodeGetReply(device)].join('').includes('wgm_'));
});

test('get: decoding is incremental: a 130,000-prefix reply streams through in small chunks', () => {
  const lines = [`public_key=${H(PUB1)}`];
  for (let i = 0; i < 130_000; i++)
    lines.push(`allowed_ip=10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  const bytes = Buffer.from(`${lines.join('\n')}\nerrno=0\n\n`, 'latin1');
  const dec = new GetReplyDecoder();
  const split = new LineSplitter();
  let done = false;
  for (let off = 0; off < bytes.length && !done; off += 4093) {
    for (const line of split.push(bytes.subarray(off, off + 4093))) if (dec.line(line)) done = true;
  }
  assert.ok(done);
  const p = dec.result().device.peers[0]!;
  assert.equal(p.allowedIPs.length, 130_000);
  assert.deepEqual(p.allowedIPs[129_999]!.address, Uint8Array.of(10, 1, 0xfb, 0xcf));
});

test("set: wg's request lines, in wg's order", () => {
  const d: Device = newDevice({
    privateKey: PRIV,
    listenPort: 51820,
    fwmark: 0xdeadbeef,
    replacePeers: true,
  });
  d.peers.push(
    newPeer({
      publicKey: PUB1,
      presharedKey: PSK,
      endpoints: [{ addr: { family: 6, address: 'fe80::1', port: 5, scope: 'eth0' } }],
      persistentKeepalive: 25,
      replaceAllowedIPs: true,
      allowedIPs: [
        { family: 4, address: Uint8Array.of(10, 0, 0, 1), cidr: 32 },
        { family: 6, address: new Uint8Array(16), cidr: 0, remove: true },
      ],
    }),
    newPeer({ publicKey: PUB2, remove: true, persistentKeepalive: 5 }),
  );
  const text = [...encodeSetRequest(d, { multiEndpoint: false })].join('');
  assert.equal(
    text,
    [
      'set=1',
      `private_key=${H(PRIV)}`,
      'listen_port=51820',
      'fwmark=3735928559',
      'replace_peers=true',
      `public_key=${H(PUB1)}`,
      `preshared_key=${H(PSK)}`,
      'endpoint=[fe80::1%eth0]:5',
      'persistent_keepalive_interval=25',
      'replace_allowed_ips=true',
      'allowed_ip=10.0.0.1/32',
      'allowed_ip=-::/0',
      `public_key=${H(PUB2)}`,
      'remove=true',
      '',
      '',
    ].join('\n'),
  );
});

test('set: several endpoints go as wgm_endpoint lines, and only to a backend that holds them', () => {
  const d = newDevice();
  d.peers.push(
    newPeer({
      publicKey: PUB1,
      endpoints: [
        { addr: { family: 4, address: '192.0.2.1', port: 1 } },
        { addr: { family: 6, address: '2001:db8::1', port: 2 } },
      ],
    }),
  );
  const text = [...encodeSetRequest(d, { multiEndpoint: true })].join('');
  assert.ok(
    text.includes('wgm_replace_endpoints=true\nwgm_endpoint=192.0.2.1:1\nwgm_endpoint=[2001:db8::1]:2\n'),
  );
  assert.ok(!text.includes('\nendpoint='));
  assert.throws(
    () => [...encodeSetRequest(d, { multiEndpoint: false })],
    (e) => isWgError(e) && e.code === 'capability',
  );
  const decoded = decodeSetRequest(text);
  assert.deepEqual(decoded.peers[0]!.endpoints, d.peers[0]!.endpoints);
  // An unresolved endpoint never reaches the wire.
  d.peers[0]!.endpoints = [{ spec: 'example.com:1' }];
  assert.throws(
    () => [...encodeSetRequest(d, { multiEndpoint: true })],
    (e) => isWgError(e) && e.code === 'internal',
  );
});

test("set: the server-side decoder answers like wireguard-go (EINVAL for bad keys and values, EPROTO for no '=')", () => {
  const dec = () => new SetRequestDecoder();
  const cases: Array<[string[], number]> = [
    [['bogus=1'], 22],
    [['replace_peers=false'], 22],
    [['listen_port=65536'], 22],
    [['listen_port=+1'], 22],
    [[`public_key=${H(PUB1)}`, 'listen_port=1'], 22],
    [[`public_key=${H(PUB1)}`, 'endpoint=example.com:1'], 22],
    [[`public_key=${H(PUB1)}`, 'allowed_ip=10.0.0.0'], 22],
    [[`public_key=${H(PUB1)}`, 'persistent_keepalive_interval=65536'], 22],
    [[`public_key=${H(PUB1)}`, 'protocol_version=2'], 22],
    [['no-equals'], 71],
  ];
  for (const [lines, want] of cases) {
    const d = dec();
    assert.equal(
      errnoOf(() => {
        for (const l of lines) d.line(l);
      }),
      want,
      lines.join(' / '),
    );
  }
  const d = dec();
  assert.deepEqual(d.line(`public_key=${H(PUB1)}`), { key: 'public_key', value: PUB1 });
  assert.deepEqual(d.line('endpoint=[fe80::1%eth0]:5'), {
    key: 'endpoint',
    value: { family: 6, address: 'fe80::1', port: 5 },
  });
  assert.deepEqual(d.line('allowed_ip=-10.0.0.0/8'), {
    key: 'allowed_ip',
    value: { family: 4, address: Uint8Array.of(10, 0, 0, 0), cidr: 8, remove: true },
  });
  assert.equal(d.line(''), 'end');
});

test("set reply: wg 1.0.20210914's reading (recorded against the real wg through a fake server)", () => {
  const outcome = (lines: string[]): number | undefined => {
    const d = new SetReplyDecoder();
    return errnoOf(() => {
      for (const l of lines) if (d.line(l)) break;
      d.result();
    });
  };
  assert.equal(outcome(['errno=0', '']), undefined);
  assert.equal(outcome(['errno=-22', '']), 22);
  assert.equal(outcome(['foo=1', 'errno=-22', '']), 22);
  assert.equal(outcome(['errno=-1', 'errno=-22', '']), 22);
  assert.equal(outcome(['errno=0', 'errno=-5', '']), 5);
  assert.equal(outcome(['errno=-0', '']), undefined);
  assert.equal(outcome(['errno=22', '']), -22, 'wrong sign: wg prints Unknown error -22');
  assert.equal(outcome(['errno=2147483647', '']), -2147483647);
  assert.equal(outcome(['errno=-2147483648', '']), -2147483648);
  for (const bad of [
    [''],
    ['errno=-22'],
    ['errno=+5', ''],
    ['errno= -22', ''],
    ['errno=-22x', ''],
    ['errno=--5', ''],
    ['errno=-', ''],
    ['errno=99999999999', ''],
    ['x', 'errno=-5', ''],
    ['errno=-5', 'x', ''],
    ['errno=-5\r', ''],
  ]) {
    assert.equal(outcome(bad), 71, JSON.stringify(bad));
  }
});

test('fuzz: random and mutated replies and requests only ever throw WgError', () => {
  let s = 0x1234567;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const alphabet = 'abcdefghijklmnopqrstuvwxyz_=0123456789:[]./%-+\n\r\0 ';
  const seeds = [GO_REPLY, 'set=1\npublic_key=' + H(PUB1) + '\nendpoint=[::1]:5\nallowed_ip=::/0\n\n'];
  for (let n = 0; n < 3000; n++) {
    let text: string;
    if (n % 3 === 0) {
      text = Array.from(
        { length: Math.floor(rnd() * 200) },
        () => alphabet[Math.floor(rnd() * alphabet.length)],
      ).join('');
    } else {
      const chars = [...seeds[n % 2]!];
      for (let m = 0; m < 1 + Math.floor(rnd() * 8); m++) {
        chars[Math.floor(rnd() * chars.length)] = alphabet[Math.floor(rnd() * alphabet.length)]!;
      }
      text = chars.join('');
    }
    for (const attempt of [
      () => decodeGetReply(text),
      () => decodeSetRequest(text),
      () => {
        const d = new SetReplyDecoder();
        for (const l of text.split('\n')) if (d.line(l)) break;
        d.result();
      },
    ]) {
      try {
        attempt();
      } catch (e) {
        assert.ok(isWgError(e), `non-WgError ${e} for ${JSON.stringify(text)}`);
        assert.equal(typeof e.errno, 'number');
      }
    }
  }
});
