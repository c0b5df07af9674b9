// WireGuard keys: 32 bytes, written as canonical 44-character base64 (wireguard-tools encoding.c, key_to_base64) or as
// 64 hex digits on the UAPI wire. X25519 lives in x25519.ts, so that verbs which only encode
// keys do not pay for loading the curve code.

import { KEY_LEN, type Key } from '../model/index.js';

export const KEY_B64_LEN = 44;
export const KEY_HEX_LEN = 64;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/** Encodes a 32-byte key as 44 characters of standard base64. */
export function keyToBase64(key: Key): string {
  if (key.length !== KEY_LEN) throw new RangeError(`key must be ${KEY_LEN} bytes, got ${key.length}`);
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64');
}

/**
 * Decodes a key the way wg does: exactly 44 characters of the standard alphabet, the last one
 * `=`, and canonical (the 43rd character carries no bits beyond the 256th). Returns undefined
 * for anything else.
 */
export function keyFromBase64(text: string): Key | undefined {
  if (text.length !== KEY_B64_LEN || text[KEY_B64_LEN - 1] !== '=') return undefined;
  const values = new Uint8Array(43);
  for (let i = 0; i < 43; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) return undefined;
    values[i] = v;
  }
  // 43 sextets = 258 bits; the last 2 bits must be zero for the encoding to be canonical.
  if ((values[42]! & 0b11) !== 0) return undefined;
  const key = new Uint8Array(KEY_LEN);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const v of values) {
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      key[o++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return key;
}

export function keyToHex(key: Key): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex');
}

/** 64 hex digits, either case; undefined otherwise. */
export function keyFromHex(text: string): Key | undefined {
  if (text.length !== KEY_HEX_LEN || !/^[0-9a-fA-F]+$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** RFC 7748 section 5 clamping, as wg genkey applies it. Returns a new array. */
export function clampPrivateKey(key: Key): Key {
  const k = Uint8Array.from(key);
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return k;
}

/** Overwrites a secret in place. */
export function wipe(secret: Uint8Array): void {
  secret.fill(0);
}
