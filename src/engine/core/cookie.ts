// MAC1, MAC2 and cookie replies (whitepaper 5.4.4 and 5.4.7).
//
// Every handshake message carries mac1 = MAC(HASH(LABEL_MAC1 ‖ Spub_receiver), msg[..mac1]),
// which anyone who knows the receiver's public key can compute. Under load, a responder also
// wants mac2 = MAC(τ, msg[..mac2]), where the cookie τ = MAC(Rm, Am) binds the sender's
// address Am to a secret Rm that changes every COOKIE_REFRESH_TIME. A sender without a valid
// mac2 gets a cookie reply: τ encrypted with XAEAD under HASH(LABEL_COOKIE ‖ Spub_responder),
// with the rejected message's mac1 as associated data.
//
// Times are the core's monotonic milliseconds; randomness is injected.

import { XAEAD_NONCE_LEN, xaeadOpen, xaeadSeal } from '../../crypto/aead.js';
import { bytesEqual, mac } from '../../crypto/blake2s.js';
import { COOKIE_REFRESH_TIME_MS } from './constants.js';
import { cookieKey, mac1Key } from './mac-keys.js';
import {
  decodeCookieReply,
  encodeCookieReply,
  MAC_LEN,
  macOffsets,
  messageType,
  senderIndex,
} from './messages.js';

export { cookieKey, mac1Key };

/** The responder's side: checks MACs of messages to us, and writes cookie replies. */
export class CookieChecker {
  private mac1Key: Uint8Array;
  private cookieKey: Uint8Array;
  private secret: Uint8Array | undefined;
  private secretSetAt = Number.NEGATIVE_INFINITY;

  constructor(
    localPublic: Uint8Array,
    private readonly random: (n: number) => Uint8Array,
  ) {
    this.mac1Key = mac1Key(localPublic);
    this.cookieKey = cookieKey(localPublic);
  }

  /** msg.mac1 = MAC(HASH(LABEL_MAC1 ‖ Spub_m), msg_a) */
  checkMac1(msg: Uint8Array): boolean {
    const { mac1 } = macOffsets(messageType(msg));
    return bytesEqual(mac(this.mac1Key, msg.subarray(0, mac1)), msg.subarray(mac1, mac1 + MAC_LEN));
  }

  /** msg.mac2 = MAC(τ, msg_b), τ = MAC(Rm, Am); false once Rm is older than two minutes. */
  checkMac2(msg: Uint8Array, source: Uint8Array, now: number): boolean {
    if (!this.secret || now - this.secretSetAt > COOKIE_REFRESH_TIME_MS) return false;
    const { mac2 } = macOffsets(messageType(msg));
    const tau = mac(this.secret, source);
    const ok = bytesEqual(mac(tau, msg.subarray(0, mac2)), msg.subarray(mac2, mac2 + MAC_LEN));
    tau.fill(0);
    return ok;
  }

  /** msg.cookie := XAEAD(HASH(LABEL_COOKIE ‖ Spub_m), msg.nonce, τ, M) with M = the mac1 we reject. */
  createReply(msg: Uint8Array, source: Uint8Array, now: number): Uint8Array {
    if (!this.secret || now - this.secretSetAt > COOKIE_REFRESH_TIME_MS) {
      this.secret = this.random(32);
      this.secretSetAt = now;
    }
    const { mac1 } = macOffsets(messageType(msg));
    const tau = mac(this.secret, source);
    const nonce = this.random(XAEAD_NONCE_LEN);
    const encryptedCookie = xaeadSeal(this.cookieKey, nonce, tau, msg.subarray(mac1, mac1 + MAC_LEN));
    tau.fill(0);
    return encodeCookieReply({ receiver: senderIndex(msg), nonce, encryptedCookie });
  }
}

/** How many recently sent mac1 values a generator remembers to match cookie replies. */
const REMEMBERED_MAC1 = 16;

/**
 * The sender's side, one per peer: adds MACs to messages for that peer, and keeps the
 * cookies the peer gave us, one per peer address (a cookie is bound to the address the
 * responder saw us at, so a cookie earned on one path is useless on another). A cookie
 * reply is filed under the address it came from and used for messages sent to that address.
 */
export class CookieGenerator {
  /** Made by the first message to the peer (a 32-byte key is ~0.2 KiB of heap per peer). */
  private mac1Key: Uint8Array | undefined;
  /** Made by the first cookie reply (most peers never send one). */
  private cookieKey: Uint8Array | undefined;
  // Both made on first use: a device holds a generator per peer, and two empty Maps are
  // ~0.4 KiB of heap each time.
  private cookies: Map<string, { cookie: Uint8Array; at: number }> | undefined;
  /** Our sender index → the mac1 we sent with it, so a reply can be decrypted. */
  private sent: Map<number, Uint8Array> | undefined;

  /** `remotePublic` is kept by reference (a peer's key does not change). */
  constructor(private readonly remotePublic: Uint8Array) {}

  /** Fills mac1, and mac2 when we hold a fresh cookie for `target`. Mutates `msg`. */
  addMacs(msg: Uint8Array, target: string, now: number): void {
    const { mac1, mac2 } = macOffsets(messageType(msg));
    this.mac1Key ??= mac1Key(this.remotePublic);
    const m1 = mac(this.mac1Key, msg.subarray(0, mac1));
    msg.set(m1, mac1);
    this.sent ??= new Map();
    this.sent.delete(senderIndex(msg));
    this.sent.set(senderIndex(msg), m1);
    if (this.sent.size > REMEMBERED_MAC1) this.sent.delete(this.sent.keys().next().value!);
    const c = this.cookies?.get(target);
    if (c && now - c.at <= COOKIE_REFRESH_TIME_MS) msg.set(mac(c.cookie, msg.subarray(0, mac2)), mac2);
    else msg.fill(0, mac2, mac2 + MAC_LEN);
  }

  /** Stores the cookie of a reply (from `source`) to one of our messages. False if it does not decrypt. */
  consumeReply(reply: Uint8Array, source: string, now: number): boolean {
    const r = decodeCookieReply(reply);
    if (!r) return false;
    const mac1 = this.sent?.get(r.receiver);
    if (!mac1) return false;
    this.cookieKey ??= cookieKey(this.remotePublic);
    const cookie = xaeadOpen(this.cookieKey, r.nonce, r.encryptedCookie, mac1);
    if (!cookie) return false;
    this.sent?.delete(r.receiver);
    this.cookies ??= new Map();
    this.cookies.get(source)?.cookie.fill(0);
    this.cookies.set(source, { cookie: Uint8Array.from(cookie), at: now });
    return true;
  }

  /** Forgets cookies (e.g. when the peer's key changes). */
  clear(): void {
    if (this.cookies) for (const c of this.cookies.values()) c.cookie.fill(0);
    this.cookies?.clear();
    this.sent?.clear();
  }
}
