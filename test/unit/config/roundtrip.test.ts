// Property: random valid models -> serializeConfig -> parse/load gives the same model back,
// all endpoints included, in order. Seeded; the seed is printed on failure (rerun with WGM_SEED).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, parseConfig } from '../../../src/config/parse.js';
import { serializeConfig } from '../../../src/config/serialize.js';
import { keyToHex } from '../../../src/crypto/keys.js';
import type { Device } from '../../../src/model/index.js';
import { formatAllowedIP, formatSockAddr } from '../../../src/model/inet.js';
import { Rng, testSeed } from '../../lib/rng.js';
import { randomDevice } from './random-model.js';

/** The fields a config file carries, in comparable text. */
function view(d: Device) {
  return {
    privateKey: d.privateKey && keyToHex(d.privateKey),
    listenPort: d.listenPort,
    fwmark: d.fwmark,
    peers: d.peers.map((p) => ({
      publicKey: p.publicKey && keyToHex(p.publicKey),
      presharedKey: p.presharedKey && keyToHex(p.presharedKey),
      allowedIPs: p.allowedIPs.map((ip) => `${ip.family} ${keyToHexLoose(ip.address)}/${ip.cidr}`),
      endpoints: p.endpoints.map((e) => formatSockAddr(e.addr!)),
      keepalive: p.persistentKeepalive,
    })),
  };
}

function keyToHexLoose(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

test('serialize -> load gives the model back (several hundred seeded cases)', async () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  const env = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' };
  let endpoints = 0;
  for (let i = 0; i < 400; i++) {
    const d = randomDevice(rng);
    const text = serializeConfig(d);
    const where = `seed ${seed}, case ${i}:\n${text}`;
    const parsed = parseConfig(text, { file: 'rt.conf' });
    // Without resolving, each endpoint is kept as the text showconf wrote.
    assert.deepEqual(
      parsed.device.peers.map((p) => p.endpoints.map((e) => e.spec)),
      d.peers.map((p) => p.endpoints.map((e) => formatSockAddr(e.addr!))),
      where,
    );
    const back = await loadConfig(text, { file: 'rt.conf', env });
    assert.deepEqual(view(back), view(d), where);
    assert.ok(back.peers.every((p) => p.replaceAllowedIPs));
    assert.equal(serializeConfig(back), text, where);
    for (const p of back.peers) {
      endpoints += p.endpoints.length;
      for (const ip of p.allowedIPs) assert.match(formatAllowedIP(ip), /\/\d+$/);
    }
  }
  assert.ok(endpoints > 400, `only ${endpoints} endpoints went round`);
});
