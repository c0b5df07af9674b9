// serializeConfig against `wg showconf` (wireguard-tools src/showconf.c): an example recorded from
// wg showconf (wireguard-tools 1.0.20210914), then random devices served to stock wg by the fake
// UAPI server in deliberately non-canonical text (full IPv6 groups, numeric scopes), so that wg's
// own inet_ntop/getnameinfo does the formatting and wgm's formatters must match it byte for byte.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serializeConfig } from '../../../src/config/serialize.js';
import { keyFromBase64, keyToHex } from '../../../src/crypto/keys.js';
import { type Device, newDevice, newPeer } from '../../../src/model/index.js';
import { formatAllowedIP, formatSockAddr } from '../../../src/model/inet.js';
import { Rng, testSeed } from '../../lib/rng.js';
import { need } from '../../lib/run.js';
import { randomDevice } from './random-model.js';
import { WgOracle } from './wg-oracle.js';

const key = (b64: string) => keyFromBase64(b64)!;

const RECORDED = `[Interface]
ListenPort = 51001
PrivateKey = cMlovxlOiyfJqLWtbmrh5LUEh+fuerBmgi2VX6tzMHE=

[Peer]
PublicKey = Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=
PresharedKey = 4TEGXX3GBRHJzIZAzAVd0qF8g6SWu3ptGSFCEsy8mLQ=
AllowedIPs = 10.0.0.2/32, fd00::2/128
Endpoint = 127.0.0.1:51002

[Peer]
PublicKey = hiw3p78SJr2xQE/HLutafQQlVvyRmJWfuoDlXvyCeCc=
AllowedIPs = 10.0.4.0/24
Endpoint = [fe80::1]:5
PersistentKeepalive = 25

[Peer]
PublicKey = gr4rvbWd+ynOHVufjeIKjBSo+g+v6pcoHH1z8HoUpz4=
AllowedIPs = 10.0.5.0/24
Endpoint = [::1]:51004
`;

const v4 = (s: string) => new Uint8Array(s.split('.').map(Number));

test('the showconf output recorded from wireguard-tools 1.0.20210914', () => {
  const d = newDevice({ listenPort: 51001, privateKey: key('cMlovxlOiyfJqLWtbmrh5LUEh+fuerBmgi2VX6tzMHE=') });
  d.peers.push(
    newPeer({
      publicKey: key('Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY='),
      presharedKey: key('4TEGXX3GBRHJzIZAzAVd0qF8g6SWu3ptGSFCEsy8mLQ='),
      allowedIPs: [
        { family: 4, address: v4('10.0.0.2'), cidr: 32 },
        { family: 6, address: new Uint8Array([0xfd, ...new Array(14).fill(0), 2]), cidr: 128 },
      ],
      endpoints: [{ addr: { family: 4, address: '127.0.0.1', port: 51002 } }],
    }),
    newPeer({
      publicKey: key('hiw3p78SJr2xQE/HLutafQQlVvyRmJWfuoDlXvyCeCc='),
      allowedIPs: [{ family: 4, address: v4('10.0.4.0'), cidr: 24 }],
      endpoints: [{ addr: { family: 6, address: 'fe80::1', port: 5 } }],
      persistentKeepalive: 25,
    }),
    newPeer({
      publicKey: key('gr4rvbWd+ynOHVufjeIKjBSo+g+v6pcoHH1z8HoUpz4='),
      allowedIPs: [{ family: 4, address: v4('10.0.5.0'), cidr: 24 }],
      endpoints: [{ addr: { family: 6, address: '0:0:0:0:0:0:0:1', port: 51004 } }],
    }),
  );
  assert.equal(serializeConfig(d), RECORDED);
});

test('an empty device, a zero preshared key, several endpoints, unresolved specs', () => {
  assert.equal(serializeConfig(newDevice()), '[Interface]\n\n');
  const d = newDevice({ fwmark: 0xdeadbeef });
  d.peers.push(
    newPeer({
      publicKey: new Uint8Array(32),
      presharedKey: new Uint8Array(32),
      endpoints: [
        { spec: 'a:1', addr: { family: 4, address: '192.0.2.1', port: 1 } },
        { spec: 'host.example:2' },
        { addr: { family: 6, address: 'fe80::1', port: 3, scope: 'lo' } },
      ],
    }),
  );
  assert.equal(
    serializeConfig(d),
    '[Interface]\nFwMark = 0xdeadbeef\n\n[Peer]\nPublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' +
      'Endpoint = 192.0.2.1:1\nEndpoint = host.example:2\nEndpoint = [fe80::1%lo]:3\n',
  );
});

function v6Full(b: Uint8Array): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i]! << 8) | b[i + 1]!).toString(16).padStart(4, '0'));
  return g.join(':');
}

/** The device as wireguard-go would answer `get=1`, in text wg has to re-format. */
function uapiReply(d: Device): string {
  const lines: string[] = [];
  if (d.privateKey) lines.push(`private_key=${keyToHex(d.privateKey)}`);
  lines.push(`listen_port=${d.listenPort ?? 0}`);
  if (d.fwmark) lines.push(`fwmark=${d.fwmark}`);
  for (const p of d.peers) {
    lines.push(`public_key=${keyToHex(p.publicKey!)}`);
    lines.push(`preshared_key=${keyToHex(p.presharedKey ?? new Uint8Array(32))}`);
    lines.push('protocol_version=1');
    const a = p.endpoints[0]?.addr;
    if (a) {
      const host = a.family === 6 ? v6Full(fromV6(a.address)) : a.address;
      lines.push(`endpoint=${a.family === 6 ? `[${host}${a.scope ? `%${a.scope}` : ''}]` : host}:${a.port}`);
    }
    lines.push('last_handshake_time_sec=0', 'last_handshake_time_nsec=0', 'tx_bytes=0', 'rx_bytes=0');
    lines.push(`persistent_keepalive_interval=${p.persistentKeepalive ?? 0}`);
    for (const ip of p.allowedIPs) {
      lines.push(
        `allowed_ip=${ip.family === 6 ? v6Full(ip.address) : Array.from(ip.address).join('.')}/${ip.cidr}`,
      );
    }
  }
  lines.push('errno=0');
  return lines.join('\n');
}

function fromV6(text: string): Uint8Array {
  const b = new Uint8Array(16);
  text.split(':').forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    b[2 * i] = n >> 8;
    b[2 * i + 1] = n & 0xff;
  });
  return b;
}

test('random devices: serializeConfig prints what wg showconf prints', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('s');
  t.after(() => oracle.close());
  const seed = testSeed();
  const rng = new Rng(seed);
  let addresses = 0;
  for (let i = 0; i < 120; i++) {
    const d = randomDevice(rng);
    for (const p of d.peers) p.endpoints.splice(1); // the UAPI holds one endpoint per peer
    oracle.uapi.options.getReply = uapiReply(d);
    const wg = await oracle.run('showconf', []);
    assert.equal(wg.status, 0, wg.stderr);
    assert.equal(serializeConfig(d), wg.stdout, `seed ${seed}, case ${i}`);
    for (const p of d.peers) {
      addresses += p.allowedIPs.length + p.endpoints.length;
      for (const ip of p.allowedIPs) assert.ok(wg.stdout.includes(formatAllowedIP(ip)));
      for (const e of p.endpoints) assert.ok(wg.stdout.includes(`Endpoint = ${formatSockAddr(e.addr!)}\n`));
    }
  }
  assert.ok(addresses > 300, `only ${addresses} addresses compared`);
});
