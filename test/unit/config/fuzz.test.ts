// Property: random and mutated inputs never make the config code throw anything but WgError
// (no TypeError, no RangeError, no hang). Seeded; the seed is printed on failure.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, parseConfig } from '../../../src/config/parse.js';
import { resolveEndpoint } from '../../../src/config/resolve.js';
import { serializeConfig } from '../../../src/config/serialize.js';
import {
  parseAllowedIPs,
  parseFwmark,
  parseKeepalive,
  parseKey,
  parsePort,
  splitEndpoint,
} from '../../../src/config/values.js';
import { isWgError } from '../../../src/model/errors.js';
import { Rng, testSeed } from '../../lib/rng.js';
import { ROOT } from '../../lib/run.js';

const ALPHABET =
  '[]=#:,./%+-_ \t\r\n\v\f0123456789abcdefxABCDEFX*\0ü✓PeerInterfacePublicKeyEndpointAllowedIPs';
const WORDS = [
  '[Interface]',
  '[Peer]',
  'PublicKey = ',
  'PrivateKey = ',
  'PresharedKey = ',
  'ListenPort = ',
  'FwMark = ',
  'Endpoint = ',
  'AllowedIPs = ',
  'PersistentKeepalive = ',
  'Edc9G9Mp09sMgrs01ZxaSSV13FzN39BptNW8hK2SfUY=',
  '127.0.0.1:5',
  '[::1]:5',
  '[fe80::1%lo]:5',
  '10.0.0.1/24',
  'fd00::/8',
  '\n',
  '#',
  ',',
];

function randomText(rng: Rng): string {
  let s = '';
  const n = rng.int(200);
  for (let i = 0; i < n; i++) s += rng.chance(0.3) ? rng.pick(WORDS) : ALPHABET[rng.int(ALPHABET.length)];
  return s;
}

function mutate(rng: Rng, text: string): string {
  let s = text;
  const edits = 1 + rng.int(6);
  for (let i = 0; i < edits; i++) {
    const at = rng.int(s.length + 1);
    switch (rng.int(3)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(8));
        break;
      case 1:
        s =
          s.slice(0, at) +
          (rng.chance(0.5) ? rng.pick(WORDS) : ALPHABET[rng.int(ALPHABET.length)]) +
          s.slice(at);
        break;
      default:
        s = s.slice(0, at) + String.fromCharCode(rng.int(256)) + s.slice(at + 1);
    }
  }
  return s;
}

function onlyWgErrors(f: () => unknown, where: string): void {
  try {
    f();
  } catch (e) {
    assert.ok(isWgError(e), `${where}: threw ${e instanceof Error ? e.stack : String(e)}`);
  }
}

const corpus = ['valid', 'invalid']
  .flatMap((k) =>
    readdirSync(join(ROOT, 'test/fixtures/configs', k)).map((n) => join(ROOT, 'test/fixtures/configs', k, n)),
  )
  .filter((p) => p.endsWith('.conf'))
  .flatMap((p) => {
    try {
      return [readFileSync(p, 'utf8')];
    } catch {
      return [];
    }
  });

test('random and mutated texts: parseConfig throws WgError or returns a serializable model', () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  let accepted = 0;
  for (let i = 0; i < 4000; i++) {
    const text = i % 2 === 0 ? randomText(rng) : mutate(rng, rng.pick(corpus));
    const where = `seed ${seed}, case ${i}: ${JSON.stringify(text)}`;
    onlyWgErrors(() => {
      const parsed = parseConfig(text, { file: 'fuzz.conf' });
      accepted++;
      assert.equal(typeof serializeConfig(parsed.device), 'string');
    }, where);
  }
  assert.ok(accepted > 40, `seed ${seed}: only ${accepted} inputs parsed; the generator is too hostile`);
});

test('random values: every value parser throws WgError or returns', () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  const parsers: [string, (v: string) => unknown][] = [
    ['parseKey', parseKey],
    ['parsePort', parsePort],
    ['parseFwmark', parseFwmark],
    ['parseKeepalive', parseKeepalive],
    ['parseAllowedIPs', (v) => parseAllowedIPs(v)],
    ['splitEndpoint', splitEndpoint],
  ];
  for (let i = 0; i < 3000; i++) {
    const v = i % 3 === 0 ? randomText(rng).slice(0, 60) : mutate(rng, rng.pick(WORDS)).trim();
    for (const [name, f] of parsers) onlyWgErrors(() => f(v), `seed ${seed}, ${name}(${JSON.stringify(v)})`);
  }
});

test('random texts through loadConfig and resolveEndpoint (no network: the lookup fails at once)', async () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  const opts = {
    env: { WG_ENDPOINT_RESOLUTION_RETRIES: '1' },
    sleep: async () => {},
    lookup: async () => ({ ok: false as const, error: 'EAI_AGAIN' }),
  };
  for (let i = 0; i < 600; i++) {
    const text = mutate(rng, rng.pick(corpus));
    try {
      await loadConfig(text, { file: 'fuzz.conf', ...opts });
    } catch (e) {
      assert.ok(isWgError(e), `seed ${seed}, case ${i}: ${e instanceof Error ? e.stack : String(e)}`);
    }
    const spec = mutate(rng, rng.pick(['127.0.0.1:5', '[::1]:5', '[fe80::1%lo]:5', 'host:domain']));
    try {
      await resolveEndpoint(spec, opts);
    } catch (e) {
      assert.ok(isWgError(e), `seed ${seed}, spec ${JSON.stringify(spec)}: ${String(e)}`);
    }
  }
});
