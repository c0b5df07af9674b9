import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  clampPrivateKey,
  keyFromBase64,
  keyFromHex,
  keyToBase64,
  keyToHex,
} from '../../../src/crypto/keys.js';
import { publicKeyOf, sharedSecret } from '../../../src/crypto/x25519.js';
import { ROOT } from '../../lib/run.js';

interface X25519Vector {
  name: string;
  scalar: string;
  u: string;
  out: string;
}

const vectors = JSON.parse(readFileSync(join(ROOT, 'test/vectors/x25519.json'), 'utf8')) as {
  source: string;
  vectors: X25519Vector[];
};

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

test('X25519 known answers (RFC 7748 section 5.2 and 6.1)', () => {
  for (const v of vectors.vectors) {
    assert.equal(Buffer.from(sharedSecret(hex(v.scalar), hex(v.u))).toString('hex'), v.out, v.name);
  }
});

test('base64 keys round-trip and reject what wg rejects', () => {
  const key = hex('70c968bf0c4e89fc89a8b5ad6eb86be4b50487e7ee7ae066822d955fab733071');
  const b64 = keyToBase64(key);
  assert.equal(b64.length, 44);
  assert.deepEqual(keyFromBase64(b64), key);
  // Non-canonical: the 43rd character carries bits beyond the key.
  const last = b64[42]!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const bumped = alphabet[alphabet.indexOf(last) | 1]!;
  assert.equal(keyFromBase64(`${b64.slice(0, 42)}${bumped}=`), undefined);
  assert.equal(keyFromBase64(b64.slice(0, 43)), undefined, 'short');
  assert.equal(keyFromBase64(`${b64}=`), undefined, 'long');
  assert.equal(keyFromBase64(`${b64.slice(0, 43)}A`), undefined, 'no padding');
  assert.equal(
    keyFromBase64(b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/^./, '-')),
    undefined,
    'url-safe',
  );
  assert.equal(keyFromBase64(`${b64.slice(0, 10)}\u00e9${b64.slice(11)}`), undefined, 'non-ASCII');
});

test('hex keys accept either case and nothing else', () => {
  const h = '70C968BF0c4e89fc89a8b5ad6eb86be4b50487e7ee7ae066822d955fab733071';
  assert.equal(keyToHex(keyFromHex(h)!), h.toLowerCase());
  assert.equal(keyFromHex(h.slice(1)), undefined);
  assert.equal(keyFromHex(`${h.slice(1)}g`), undefined);
});

test('clamping follows RFC 7748 section 5', () => {
  const k = clampPrivateKey(new Uint8Array(32).fill(0xff));
  assert.equal(k[0], 0xf8);
  assert.equal(k[31], 0x7f);
  const z = clampPrivateKey(new Uint8Array(32));
  assert.equal(z[31], 0x40);
});

test('the public key of the zero key is what wg prints', () => {
  assert.equal(keyToBase64(publicKeyOf(new Uint8Array(32))), 'L+V9o0fNYkMVKNqsX7spBzD/9oSvxM/C7ZCZX1jLO3Q=');
});
