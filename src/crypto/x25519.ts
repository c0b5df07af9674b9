// X25519 (RFC 7748) from @noble/curves.

import { x25519 } from '@noble/curves/ed25519.js';
import type { Key } from '../model/index.js';

/** X25519(key, 9). The key is clamped internally, as RFC 7748 requires. */
export function publicKeyOf(privateKey: Key): Key {
  return x25519.getPublicKey(privateKey);
}

/** X25519(privateKey, publicKey). */
export function sharedSecret(privateKey: Key, publicKey: Key): Key {
  return x25519.getSharedSecret(privateKey, publicKey);
}
