// The Noise_IKpsk2 handshake with WireGuard's construction (whitepaper 5.4.2-5.4.5).
// Pure functions over explicit inputs: the ephemeral private key, the timestamp and the sender
// index are arguments, so that a recorded exchange can be replayed byte for byte. MACs are
// added afterwards (cookie.ts); these functions leave them zero.
//
// The whitepaper line each step implements is written above it. Ci/Hi are the initiator's
// chaining key and hash, Cr/Hr the responder's.

import { aeadOpen, aeadSeal } from '../../crypto/aead.js';
import { hash, kdf1, kdf2, kdf3, PreparedKey } from '../../crypto/blake2s.js';
import { publicKeyOf, sharedSecret } from '../../crypto/x25519-native.js';
import { CONSTRUCTION, IDENTIFIER, labelBytes } from './constants.js';
import {
  decodeInitiation,
  decodeResponse,
  encodeInitiation,
  encodeResponse,
  TIMESTAMP_LEN,
} from './messages.js';

const EMPTY = new Uint8Array(0);
const ZERO_KEY = new Uint8Array(32);

/** Ci := HASH(CONSTRUCTION) */
export const INITIAL_CHAINING_KEY = hash(labelBytes(CONSTRUCTION));
/** Hi := HASH(Ci ‖ IDENTIFIER) */
export const INITIAL_HASH = hash(INITIAL_CHAINING_KEY, labelBytes(IDENTIFIER));
/** Ci as a KDF key: every handshake's first KDF1 starts from it (blake2s.ts PreparedKey). */
const INITIAL_KDF_KEY = new PreparedKey(INITIAL_CHAINING_KEY);

/** DH(private, public), or undefined for a public key of low order (an all-zero result). */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
  try {
    const s = sharedSecret(privateKey, publicKey);
    let acc = 0;
    for (const b of s) acc |= b;
    return acc === 0 ? undefined : s;
  } catch {
    return undefined;
  }
}

/** The symmetric state both sides carry through the handshake. */
export interface Chain {
  chainingKey: Uint8Array;
  hash: Uint8Array;
}

export interface InitiationInput {
  localPrivate: Uint8Array;
  localPublic: Uint8Array;
  remotePublic: Uint8Array;
  /** DH(Spriv_i, Spub_r), computed once per peer. */
  staticStatic: Uint8Array;
  ephemeralPrivate: Uint8Array;
  timestamp: Uint8Array;
  senderIndex: number;
}

export interface InitiationOutput {
  message: Uint8Array;
  chain: Chain;
  ephemeralPrivate: Uint8Array;
}

/** Message 1 (whitepaper 5.4.2), without MACs. Undefined when a DH result is zero. */
export function createInitiation(i: InitiationInput): InitiationOutput | undefined {
  if (i.timestamp.length !== TIMESTAMP_LEN) throw new RangeError('timestamp must be 12 bytes');
  // Ci := HASH(CONSTRUCTION) (INITIAL_KDF_KEY); Hi := HASH(Ci ‖ IDENTIFIER);
  // Hi := HASH(Hi ‖ Spub_r)
  let h = hash(INITIAL_HASH, i.remotePublic);
  // (Eipriv, Eipub) := DH-GENERATE(); msg.ephemeral := Eipub
  const ephemeral = publicKeyOf(i.ephemeralPrivate);
  // Ci := KDF1(Ci, msg.ephemeral)
  let c = kdf1(INITIAL_KDF_KEY, ephemeral);
  // Hi := HASH(Hi ‖ msg.ephemeral)
  h = hash(h, ephemeral);
  // (Ci, κ) := KDF2(Ci, DH(Eipriv, Spub_r))
  const es = dh(i.ephemeralPrivate, i.remotePublic);
  if (!es) return undefined;
  let [c2, k] = kdf2(c, es);
  c = c2;
  // msg.static := AEAD(κ, 0, Spub_i, Hi)
  const encryptedStatic = aeadSeal(k, 0, i.localPublic, h);
  // Hi := HASH(Hi ‖ msg.static)
  h = hash(h, encryptedStatic);
  // (Ci, κ) := KDF2(Ci, DH(Spriv_i, Spub_r))
  [c2, k] = kdf2(c, i.staticStatic);
  c = c2;
  // msg.timestamp := AEAD(κ, 0, TIMESTAMP(), Hi)
  const encryptedTimestamp = aeadSeal(k, 0, i.timestamp, h);
  // Hi := HASH(Hi ‖ msg.timestamp)
  h = hash(h, encryptedTimestamp);
  k.fill(0);
  es.fill(0);
  const message = encodeInitiation({ sender: i.senderIndex, ephemeral, encryptedStatic, encryptedTimestamp });
  return { message, chain: { chainingKey: c, hash: h }, ephemeralPrivate: i.ephemeralPrivate };
}

/** First half of consuming message 1: who claims to have sent it. */
export interface OpenedInitiation {
  remoteStatic: Uint8Array;
  remoteEphemeral: Uint8Array;
  senderIndex: number;
  chain: Chain;
}

/** Decrypts the initiator's static key (whitepaper 5.4.2, responder side). */
export function openInitiation(
  message: Uint8Array,
  localPrivate: Uint8Array,
  localPublic: Uint8Array,
): OpenedInitiation | undefined {
  const m = decodeInitiation(message);
  if (!m) return undefined;
  // Our own copy: the response's DH(Erpriv, Eipub) uses the same array, so the X25519 key
  // object made for it here is reused there (x25519-native.ts caches by array).
  const remoteEphemeral = Uint8Array.from(m.ephemeral);
  // Hi := HASH(HASH(Ci ‖ IDENTIFIER) ‖ Spub_r)
  let h = hash(INITIAL_HASH, localPublic);
  // Hi := HASH(Hi ‖ msg.ephemeral); Ci := KDF1(Ci, msg.ephemeral)
  h = hash(h, remoteEphemeral);
  let c = kdf1(INITIAL_KDF_KEY, remoteEphemeral);
  // (Ci, κ) := KDF2(Ci, DH(Spriv_r, Eipub))
  const es = dh(localPrivate, remoteEphemeral);
  if (!es) return undefined;
  const [c2, k] = kdf2(c, es);
  c = c2;
  es.fill(0);
  // Spub_i := AEAD-OPEN(κ, 0, msg.static, Hi)
  const remoteStatic = aeadOpen(k, 0, m.encryptedStatic, h);
  k.fill(0);
  if (!remoteStatic) return undefined;
  // Hi := HASH(Hi ‖ msg.static)
  h = hash(h, m.encryptedStatic);
  return {
    remoteStatic: Uint8Array.from(remoteStatic),
    remoteEphemeral,
    senderIndex: m.sender,
    chain: { chainingKey: c, hash: h },
  };
}

/** Second half: with the claimed peer's DH(Spriv_r, Spub_i), authenticate and read the timestamp. */
export function finishInitiation(
  message: Uint8Array,
  opened: OpenedInitiation,
  staticStatic: Uint8Array,
): { timestamp: Uint8Array; chain: Chain } | undefined {
  const m = decodeInitiation(message);
  if (!m) return undefined;
  // (Ci, κ) := KDF2(Ci, DH(Spriv_r, Spub_i))
  const [c, k] = kdf2(opened.chain.chainingKey, staticStatic);
  // timestamp := AEAD-OPEN(κ, 0, msg.timestamp, Hi)
  const timestamp = aeadOpen(k, 0, m.encryptedTimestamp, opened.chain.hash);
  k.fill(0);
  if (!timestamp) return undefined;
  // Hi := HASH(Hi ‖ msg.timestamp)
  const h = hash(opened.chain.hash, m.encryptedTimestamp);
  return { timestamp: Uint8Array.from(timestamp), chain: { chainingKey: c, hash: h } };
}

export interface ResponseInput {
  /** The chain after the consumed initiation. */
  chain: Chain;
  remoteStatic: Uint8Array;
  remoteEphemeral: Uint8Array;
  /** The initiator's sender index, which becomes msg.receiver. */
  receiverIndex: number;
  senderIndex: number;
  ephemeralPrivate: Uint8Array;
  /** Q: the preshared key, all zero when none. */
  presharedKey: Uint8Array | undefined;
}

/** Message 2 (whitepaper 5.4.3), without MACs. */
export function createResponse(r: ResponseInput): { message: Uint8Array; chain: Chain } | undefined {
  let c = r.chain.chainingKey;
  let h = r.chain.hash;
  // (Erpriv, Erpub) := DH-GENERATE(); msg.ephemeral := Erpub
  const ephemeral = publicKeyOf(r.ephemeralPrivate);
  // Cr := KDF1(Cr, Erpub)
  c = kdf1(c, ephemeral);
  // Hr := HASH(Hr ‖ msg.ephemeral)
  h = hash(h, ephemeral);
  // Cr := KDF1(Cr, DH(Erpriv, Eipub))
  const ee = dh(r.ephemeralPrivate, r.remoteEphemeral);
  if (!ee) return undefined;
  c = kdf1(c, ee);
  ee.fill(0);
  // Cr := KDF1(Cr, DH(Erpriv, Spub_i))
  const se = dh(r.ephemeralPrivate, r.remoteStatic);
  if (!se) return undefined;
  c = kdf1(c, se);
  se.fill(0);
  // (Cr, τ, κ) := KDF3(Cr, Q)
  const [c3, tau, k] = kdf3(c, r.presharedKey ?? ZERO_KEY);
  c = c3;
  // Hr := HASH(Hr ‖ τ)
  h = hash(h, tau);
  tau.fill(0);
  // msg.empty := AEAD(κ, 0, ε, Hr)
  const encryptedNothing = aeadSeal(k, 0, EMPTY, h);
  k.fill(0);
  // Hr := HASH(Hr ‖ msg.empty)
  h = hash(h, encryptedNothing);
  const message = encodeResponse({
    sender: r.senderIndex,
    receiver: r.receiverIndex,
    ephemeral,
    encryptedNothing,
  });
  return { message, chain: { chainingKey: c, hash: h } };
}

/** Consumes message 2 at the initiator (whitepaper 5.4.3, initiator side). */
export function consumeResponse(
  message: Uint8Array,
  chain: Chain,
  ephemeralPrivate: Uint8Array,
  localPrivate: Uint8Array,
  presharedKey: Uint8Array | undefined,
): { chain: Chain; senderIndex: number } | undefined {
  const m = decodeResponse(message);
  if (!m) return undefined;
  // Hr := HASH(Hr ‖ msg.ephemeral); Cr := KDF1(Cr, Erpub)
  let h = hash(chain.hash, m.ephemeral);
  let c = kdf1(chain.chainingKey, m.ephemeral);
  // Cr := KDF1(Cr, DH(Eipriv, Erpub))
  const ee = dh(ephemeralPrivate, m.ephemeral);
  if (!ee) return undefined;
  c = kdf1(c, ee);
  ee.fill(0);
  // Cr := KDF1(Cr, DH(Sipriv, Erpub))
  const se = dh(localPrivate, m.ephemeral);
  if (!se) return undefined;
  c = kdf1(c, se);
  se.fill(0);
  // (Cr, τ, κ) := KDF3(Cr, Q); Hr := HASH(Hr ‖ τ)
  const [c3, tau, k] = kdf3(c, presharedKey ?? ZERO_KEY);
  c = c3;
  h = hash(h, tau);
  tau.fill(0);
  // ε := AEAD-OPEN(κ, 0, msg.empty, Hr)
  const ok = aeadOpen(k, 0, m.encryptedNothing, h);
  k.fill(0);
  if (!ok) return undefined;
  // Hr := HASH(Hr ‖ msg.empty)
  h = hash(h, m.encryptedNothing);
  return { chain: { chainingKey: c, hash: h }, senderIndex: m.sender };
}

/**
 * Transport keys (whitepaper 5.4.5): (Tsend_i = Trecv_r, Trecv_i = Tsend_r) := KDF2(Ci = Cr, ε).
 * The chaining key is wiped afterwards, as the paper asks.
 */
export function deriveTransportKeys(
  chain: Chain,
  isInitiator: boolean,
): { sendKey: Uint8Array; recvKey: Uint8Array } {
  const [t1, t2] = kdf2(chain.chainingKey, EMPTY);
  chain.chainingKey.fill(0);
  chain.hash.fill(0);
  return isInitiator ? { sendKey: t1, recvKey: t2 } : { sendKey: t2, recvKey: t1 };
}
