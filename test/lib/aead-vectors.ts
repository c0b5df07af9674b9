// The AEAD known answers of test/vectors/aead.json (RFC 8439 §2.8.2 and A.5; XChaCha20-Poly1305
// draft-irtf-cfrg-xchacha-03 A.3.1), shared by the crypto/aead.ts tests and the native
// (libcrypto/libsodium) tests, with the hex helpers both use.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './run.js';

export interface AeadVector {
  name: string;
  key: string;
  nonce: string;
  ad: string;
  plaintext: string;
  sealed: string;
}

export const aeadVectors = JSON.parse(readFileSync(join(ROOT, 'test/vectors/aead.json'), 'utf8')) as {
  chacha20poly1305: AeadVector[];
  xchacha20poly1305: AeadVector[];
};

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array | undefined): string =>
  b ? Buffer.from(b).toString('hex') : 'undefined';
