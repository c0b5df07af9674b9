// The workers' packet ciphers (dataplane/cipher.ts): every kind seals to the same bytes as
// node:crypto for packets on both sides of the size at which 'native' moves from libsodium to
// OpenSSL (whose context it makes on the first such packet), each opens what the others
// sealed and refuses a flipped bit, and ciphers made one after another in the same native
// memory (libsodium's keys are reused, wiped, after `free`) keep their own keys.

import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { type CipherKind, makeCipher, SODIUM_BELOW } from '../../../../src/engine/dataplane/cipher.js';
import { libcryptoAvailable, libsodiumAvailable } from '../../../../src/sys/libcrypto.js';
import { allocNative, freeNative } from '../../../../src/sys/native.js';

const TAG = 16;
const SIZES = [0, 1, 64, 1420, SODIUM_BELOW - 1, SODIUM_BELOW, SODIUM_BELOW + 1, 8960];

/** WireGuard's nonce: 32 zero bits, then the counter as u64 LE. */
function nodeSeal(key: Uint8Array, counter: number, plain: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(counter), 4);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function kinds(): CipherKind[] {
  const k: CipherKind[] = ['node'];
  if (libcryptoAvailable()) k.push('libcrypto');
  if (libsodiumAvailable()) k.push('libsodium');
  if (libcryptoAvailable() || libsodiumAvailable()) k.push('native');
  return k;
}

test('every kind seals as node:crypto does, opens the others, and refuses a flipped bit', (t) => {
  if (!libcryptoAvailable() && !libsodiumAvailable()) return t.skip('needs libcrypto or libsodium');
  const mem = allocNative(9000 + TAG);
  try {
    for (const size of SIZES) {
      const key = randomBytes(32);
      const plain = randomBytes(size);
      const counter = 1000 + size;
      const want = nodeSeal(key, counter, plain);
      for (const sealer of kinds()) {
        const s = makeCipher(sealer, key, true);
        mem.bytes.set(plain, 0);
        s.seal(counter, mem, 0, size);
        assert.deepEqual(
          Buffer.from(mem.bytes.subarray(0, size + TAG)),
          want,
          `${sealer} sealing ${size} bytes`,
        );
        s.free();
        for (const opener of kinds()) {
          const o = makeCipher(opener, key, false);
          mem.bytes.set(want, 0);
          assert.ok(o.open(counter, mem, 0, size + TAG), `${opener} opening ${size} bytes`);
          assert.deepEqual(Buffer.from(mem.bytes.subarray(0, size)), Buffer.from(plain));
          mem.bytes.set(want, 0);
          mem.bytes[Math.floor((size + TAG) / 2)]! ^= 1;
          assert.equal(o.open(counter, mem, 0, size + TAG), false, `${opener}: flipped bit, ${size} bytes`);
          o.free();
        }
      }
    }
  } finally {
    freeNative(mem);
  }
});

test('ciphers made after others were freed keep their own keys', (t) => {
  if (!libsodiumAvailable()) return t.skip('needs libsodium');
  const mem = allocNative(2000 + TAG);
  try {
    for (let round = 0; round < 3; round++) {
      const keys = Array.from({ length: 40 }, () => randomBytes(32));
      const ciphers = keys.map((k) => makeCipher('native', k, true));
      // Free every other one, then make new ones into the memory they gave back.
      for (let i = 0; i < ciphers.length; i += 2) ciphers[i]!.free();
      for (let i = 0; i < ciphers.length; i += 2) {
        keys[i] = randomBytes(32);
        ciphers[i] = makeCipher('native', keys[i]!, true);
      }
      keys.forEach((k, i) => {
        for (const size of [100, 1800]) {
          const plain = randomBytes(size);
          mem.bytes.set(plain, 0);
          ciphers[i]!.seal(i, mem, 0, size);
          assert.deepEqual(Buffer.from(mem.bytes.subarray(0, size + TAG)), nodeSeal(k, i, plain));
        }
      });
      for (const c of ciphers) c.free();
    }
  } finally {
    freeNative(mem);
  }
});
