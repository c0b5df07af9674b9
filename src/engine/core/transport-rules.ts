// The per-packet rules of transport data (whitepaper 5.4.6 and 6), as pure functions: the one
// copy that every sealer and opener imports (the header codec is messages.ts's). The data-plane workers (dataplane/tx.ts, rx.ts),
// the main thread's sender (dataplane/main-send.ts) and the core (transport.ts, which the
// simulation in test/unit/engine/core drives) all call these, so a rule the simulation
// exercises is the rule production runs.

import {
  COUNTER_LIMIT,
  KEEPALIVE_TIMEOUT_MS,
  PADDING_MULTIPLE,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES_SAFE,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from './constants.js';

/**
 * The plaintext length after padding: a multiple of 16, never past the MTU, computed for
 * packets longer than the MTU as wireguard-go's calculatePaddingSize (device/send.go) does.
 */
export function paddedLength(len: number, mtu: number): number {
  let last = len;
  if (mtu > 0 && last > mtu) last %= mtu;
  let padded = (last + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1);
  if (mtu > 0 && padded > mtu) padded = mtu;
  return len + (padded - last);
}

/**
 * Reserves the next send counter from a keypair's shared cell (every thread that seals with
 * the keypair reserves from it, so no nonce is used twice); undefined when none is left.
 */
export function reserveCounter(cell: BigInt64Array): number | undefined {
  const c = Number(Atomics.add(cell, 0, 1n));
  if (c < COUNTER_LIMIT) return c;
  Atomics.store(cell, 0, BigInt(COUNTER_LIMIT));
  return undefined;
}

/**
 * The length the IP packet at `off` claims for itself (IPv4 total length, IPv6 payload length
 * + 40), or 0 when it is no plausible IP packet within `avail` bytes: what is left after the
 * padding is removed from a decrypted plaintext.
 */
export function ipPacketLength(bytes: Uint8Array, off: number, avail: number): number {
  const version = bytes[off]! >> 4;
  if (version === 4 && avail >= 20) {
    const total = (bytes[off + 2]! << 8) | bytes[off + 3]!;
    return total >= 20 && total <= avail ? total : 0;
  }
  if (version === 6 && avail >= 40) {
    const total = 40 + ((bytes[off + 4]! << 8) | bytes[off + 5]!);
    return total <= avail ? total : 0;
  }
  return 0;
}

/** REJECT_AFTER_TIME: a keypair this old neither seals nor opens. */
export function keypairExpired(created: number, now: number): boolean {
  return now - created >= REJECT_AFTER_TIME_MS;
}

/**
 * After sending on the current keypair: start a new handshake when it has sealed many
 * messages, or when we initiated it REKEY_AFTER_TIME ago (wireguard-go keepKeyFreshSending).
 */
export function rekeyAfterSending(
  isInitiator: boolean,
  created: number,
  nextCounter: number,
  now: number,
): boolean {
  return nextCounter > REKEY_AFTER_MESSAGES_SAFE || (isInitiator && now - created > REKEY_AFTER_TIME_MS);
}

/**
 * After receiving on the current keypair we initiated: start a new handshake before it dies,
 * at REJECT_AFTER_TIME − KEEPALIVE_TIMEOUT − REKEY_TIMEOUT (wireguard-go keepKeyFreshReceiving).
 */
export function rekeyAfterReceiving(isInitiator: boolean, created: number, now: number): boolean {
  return isInitiator && now - created > REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;
}
