// The keys of mac1 and of cookie replies (whitepaper 5.4.4, 5.4.7), apart from cookie.ts so
// that the data-plane workers, which check mac1, do not load the XAEAD of cookie replies.

import { hash } from '../../crypto/blake2s.js';
import { LABEL_COOKIE, LABEL_MAC1, labelBytes } from './constants.js';

/** HASH(LABEL_MAC1 ‖ Spub): the key of mac1 for messages to the owner of `publicKey`. */
export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return hash(labelBytes(LABEL_MAC1), publicKey);
}

/** HASH(LABEL_COOKIE ‖ Spub): the key of cookie replies from the owner of `publicKey`. */
export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return hash(labelBytes(LABEL_COOKIE), publicKey);
}
