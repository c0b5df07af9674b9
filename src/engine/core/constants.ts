// WireGuard's constants, named as in the protocol paper (whitepaper section 6.1, "Timers"),
// with their units in the name. The specification constants come first; the implementation
// knobs after them are what wireguard-go chose where the paper leaves a choice.
//
// Times are milliseconds on the monotonic timeline the engine feeds the core (`now`).

// ---- Specification constants (whitepaper 6.1, and section 5.4 for the labels) ----

/** Rekey after this many messages on one keypair: 2^60. */
export const REKEY_AFTER_MESSAGES = 2n ** 60n;
/** A keypair may not carry more than this many messages: 2^64 − 2^13 − 1. */
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;
/** The initiator of the current keypair starts a new handshake on send after this age. */
export const REKEY_AFTER_TIME_MS = 120_000;
/** A keypair older than this is never used, in either direction. */
export const REJECT_AFTER_TIME_MS = 180_000;
/** Handshake retries stop after this long. */
export const REKEY_ATTEMPT_TIME_MS = 90_000;
/** An unanswered initiation is retransmitted after this long (plus jitter). */
export const REKEY_TIMEOUT_MS = 5_000;
/** A passive keepalive goes out this long after data was received and nothing was sent back. */
export const KEEPALIVE_TIMEOUT_MS = 10_000;

export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const LABEL_MAC1 = 'mac1----';
export const LABEL_COOKIE = 'cookie--';

/** The bytes of one of the strings above, as the protocol hashes them. */
export const labelBytes = (s: string): Uint8Array => new TextEncoder().encode(s);

// ---- Implementation constants (wireguard-go device/constants.go; kernel messages.h) ----

/** Jitter added to REKEY_TIMEOUT and to the new-handshake timer: 0 ≤ jitter < 334 ms. */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334;
/** Retries after the first initiation before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;
/** A responder consumes at most one initiation per peer in this interval (50 per second). */
export const HANDSHAKE_INITIATION_RATE_MS = 20;
/** A cookie (and the responder's cookie secret) is valid this long. */
export const COOKIE_REFRESH_TIME_MS = 120_000;
/** Once under load, the device stays under load this long. */
export const UNDER_LOAD_AFTER_TIME_MS = 1_000;
/**
 * At most this many handshake messages wait for the responder (wireguard-go device/constants.go
 * QueueHandshakeSize); the engine drops what does not fit.
 */
export const HANDSHAKE_QUEUE_SIZE = 1024;
/**
 * The device is under load (cookie replies) while at least this many handshake messages wait
 * behind the one being answered, as in wireguard-go (device/device.go IsUnderLoad:
 * QueueHandshakeSize / 8): a responder that keeps up answers a burst of any rate with DHs, one
 * that falls behind asks for cookies. The core owns no queue; its owner passes the depth with
 * each message (Core.datagram).
 */
export const UNDER_LOAD_QUEUE_DEPTH = HANDSHAKE_QUEUE_SIZE / 8;
/**
 * Initiations that cost a DH and then failed to open (no configured peer sent them) within
 * UNDER_LOAD_AFTER_TIME_MS past which the device is under load too. A legitimate burst never
 * fails so; a flood spread over many sources at a rate the responder keeps up with does
 * (wireguard-go would spend a DH on each of those; the kernel and wireguard-go have no such rule).
 */
export const UNDER_LOAD_INVALID_INITIATIONS = UNDER_LOAD_QUEUE_DEPTH;
/** Per source address under load: this many handshake messages per second... */
export const RATELIMIT_PACKETS_PER_SEC = 20;
/** ...with this burst. */
export const RATELIMIT_BURST = 5;
/** Packets queued per peer while a handshake is in progress (the oldest is dropped). */
export const MAX_STAGED_PACKETS = 128;
/** Plaintexts are padded to a multiple of this (whitepaper 5.4.6). */
export const PADDING_MULTIPLE = 16;
/** The tunnel MTU assumed when the engine does not say (wg-quick's default). */
export const DEFAULT_MTU = 1420;

/**
 * Transport counters are JavaScript numbers, so this core refuses counters at or above 2^53
 * (it neither sends nor accepts them). That bound is far below REKEY_AFTER_MESSAGES (2^60) and
 * can never be reached within REJECT_AFTER_TIME: it would take 5·10^13 packets per second.
 */
export const COUNTER_LIMIT = 2 ** 53;
/** The sliding replay window of transport counters, in messages (wireguard-go and the kernel). */
export const REPLAY_WINDOW = 8128;
/**
 * REKEY_AFTER_MESSAGES within the safe bound: a sender starts a new handshake past 2^52
 * messages on one keypair (instead of 2^60), well before it would hit COUNTER_LIMIT.
 */
export const REKEY_AFTER_MESSAGES_SAFE = 2 ** 52;
