// X25519 (RFC 7748) through node:crypto (OpenSSL), for the engine's handshakes. The key
// commands keep @noble/curves (x25519.ts); test/unit/crypto/x25519-native.test.ts holds the two
// to the same answers.
//
// node:crypto computes on KeyObjects, and how a raw key becomes one decides the cost: from DER
// (PKCS#8 / SPKI) OpenSSL 3 runs its generic decoder, measured here at ~490 µs for a private
// key and ~110 µs for a public one, where the DH itself takes ~45 µs; from a JWK it calls
// EVP_PKEY_new_raw_{private,public}_key (~55 µs with the public-key computation; ~10 µs).
// A responder builds three KeyObjects per handshake (the initiator's ephemeral, its own
// ephemeral, and reads the latter's public key back), so the JWK path is the default.
//
// Deviation from "wipe secrets" (style.md 7), written down here: a JWK carries the private
// scalar as a base64url string, and node decodes it into a Buffer it does not wipe; neither
// can be cleared from JavaScript, so both stay in the heap until reused. The DER path leaves
// the same kind of residue: OpenSSL decodes the key into an ASN.1 octet string that it frees
// without cleansing (ossl_ecx_key_from_pkcs8, crypto/ec/ecx_backend.c). So this trades one
// unwiped copy for another, at a ninth of the cost. The caller's own arrays are wiped by the
// caller, as before; OpenSSL's key (inside the KeyObject) is cleansed when it is freed.

import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import type { Key } from '../model/index.js';

// DER prefixes of a PKCS#8 X25519 private key and an SPKI X25519 public key (RFC 8410), for
// a node that refuses the JWK form.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const KEY_LEN = 32;

// A device's static key and its peers' public keys are the same arrays handshake after
// handshake, and a handshake uses its ephemeral key twice or three times; building each
// array's KeyObject once (keyed by array identity, so no key bytes are copied into a lookup
// table) saves a conversion per use. A caller that mutates a cached array in place must not
// rely on this: the core replaces keys, it never edits them (it wipes them when done).
const privateCache = new WeakMap<Key, KeyObject>();
const publicCache = new WeakMap<Key, KeyObject>();

/** Whether this node builds X25519 keys from JWKs (every supported one does; checked once). */
let jwk: boolean | undefined;

const b64url = (key: Key) => Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64url');

function checkLength(key: Key): void {
  if (key.length !== KEY_LEN) throw new RangeError(`X25519 keys are ${KEY_LEN} bytes`);
}

/** `key`'s KeyObject from `cache`, built once per array. */
function keyObject(cache: WeakMap<Key, KeyObject>, key: Key, build: (key: Key) => KeyObject): KeyObject {
  let obj = cache.get(key);
  if (!obj) {
    checkLength(key);
    obj = build(key);
    cache.set(key, obj);
  }
  return obj;
}

const privateKeyObject = (key: Key) => keyObject(privateCache, key, buildPrivate);
const publicKeyObject = (key: Key) => keyObject(publicCache, key, buildPublic);

function buildPrivate(key: Key): KeyObject {
  if (jwk !== false) {
    try {
      // `x` is required by the JWK syntax check but not read for a private key: OpenSSL
      // derives the public key from `d`.
      const obj = createPrivateKey({
        key: { kty: 'OKP', crv: 'X25519', d: b64url(key), x: '' },
        format: 'jwk',
      });
      jwk = true;
      return obj;
    } catch (e) {
      if (jwk) throw e;
      jwk = false;
    }
  }
  const der = Buffer.concat([PKCS8_PREFIX, key]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

function buildPublic(key: Key): KeyObject {
  if (jwk !== false) {
    try {
      return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(key) }, format: 'jwk' });
    } catch (e) {
      if (jwk) throw e;
    }
  }
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key]), format: 'der', type: 'spki' });
}

/**
 * X25519 on raw keys from elsewhere, used instead of node:crypto when installed (the engine
 * installs node's OpenSSL's or libsodium's, sys/x25519-raw.ts: no KeyObject to build per key). `sharedSecret`
 * returns undefined for an all-zero result.
 */
export interface RawX25519 {
  publicKeyOf(privateKey: Key): Key;
  sharedSecret(privateKey: Key, publicKey: Key): Key | undefined;
}

let raw: RawX25519 | undefined;

/** Uses `impl` for every X25519 of this thread from now on (undefined: node:crypto again). */
export function useRawX25519(impl: RawX25519 | undefined): void {
  raw = impl;
}

/** X25519(key, 9). OpenSSL clamps the scalar, as RFC 7748 requires. */
export function publicKeyOf(privateKey: Key): Key {
  if (raw) return raw.publicKeyOf(privateKey);
  const pub = createPublicKey(privateKeyObject(privateKey));
  if (jwk) {
    const x = pub.export({ format: 'jwk' }).x;
    if (typeof x === 'string') return new Uint8Array(Buffer.from(x, 'base64url'));
  }
  const spki = pub.export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

/**
 * X25519(privateKey, publicKey). Throws for a low-order public key (an all-zero result),
 * which WireGuard must refuse anyway.
 */
export function sharedSecret(privateKey: Key, publicKey: Key): Key {
  if (raw) {
    const r = raw.sharedSecret(privateKey, publicKey);
    if (!r) throw new Error('X25519: low-order public key');
    return r;
  }
  const s = diffieHellman({
    privateKey: privateKeyObject(privateKey),
    publicKey: publicKeyObject(publicKey),
  });
  return new Uint8Array(s.buffer, s.byteOffset, s.length);
}

/** Which conversion this node uses: 'jwk' (the fast one) or 'der'; undefined before the first key. */
export function keyImportPath(): 'jwk' | 'der' | undefined {
  return jwk === undefined ? undefined : jwk ? 'jwk' : 'der';
}
