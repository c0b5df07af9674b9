// Parameters of endpoint selection (docs/endpoint-selection.md explains each choice). Times in
// milliseconds on the core's monotonic timeline. Values taken from elsewhere say where from:
// RFC 8305 (Happy Eyeballs v2), RFC 6298 (the retransmission-timer estimator), wireguard-go
// device/constants.go, and Tailscale's wgengine/magicsock/magicsock.go.

// ---- Candidates (bounds answer "how is the list kept memory-bounded?") ----

/** `Endpoint` lines per peer. */
export const MAX_ENDPOINT_LINES = 16;
/** Addresses kept per resolved name, and per address family within one name. */
export const MAX_ADDRS_PER_NAME = 8;
export const MAX_ADDRS_PER_NAME_FAMILY = 4;
/** Configured and resolved candidates stored per peer. */
export const MAX_STORED_CANDIDATES = 32;
/** Learned candidates (sources the peer roamed to), kept in an LRU... */
export const MAX_LEARNED_CANDIDATES = 4;
/** ...and forgotten after this long without an authenticated packet from them. */
export const LEARNED_TTL_MS = 120_000;
/** RFC 8305 section 4: how many addresses of the first family come before the other family. */
export const FIRST_ADDRESS_FAMILY_COUNT = 1;

// ---- Rounds ----

/** Initiations per round (also the bound on in-flight handshake states per peer). */
export const MAX_ROUND_INITIATIONS = 8;
/** RFC 8305 section 5 Connection Attempt Delay, used when a candidate has no RTT history. */
export const STAGGER_DEFAULT_MS = 250;
/** RFC 8305 section 5 recommended minimum and maximum of an RTT-derived attempt delay. */
export const STAGGER_MIN_MS = 100;
export const STAGGER_MAX_MS = 2_000;
/** A round fails this long after its last send, or 3 × the largest SRTT if that is longer. */
export const ROUND_TIMEOUT_MIN_MS = 1_000;
/** Delays before the first, second and third retry round; later ones wait REKEY_TIMEOUT + jitter. */
export const ROUND_RETRY_MS: readonly number[] = [1_000, 2_000, 4_000];
/** Consecutive failed rounds after which rounds carry one candidate each. */
export const SERIAL_AFTER_FAILURES = 2;
/** Gap between serial single-candidate rounds within one pass over the candidates. */
export const SERIAL_GAP_MS = 1_000;

// ---- Triggers ----

/** Silence after sent data that makes an interactive path suspect: max(this, 4 × SRTT). */
export const SUSPECT_MIN_MS = 1_000;
/** Silence after sent data before a liveness round when traffic is one-way... */
export const LIVENESS_SILENCE_MS = 3_000;
/** ...at most one per this interval... */
export const LIVENESS_INTERVAL_MS = 10_000;
/** ...and the liveness round's other candidates follow after max(this, 3 × SRTT). */
export const LIVENESS_ESCALATE_MIN_MS = 300;
/** Upgrade probes toward preferred or faster paths (Tailscale's upgradeUDPDirectInterval). */
export const UPGRADE_INTERVAL_MS = 60_000;
/** No upgrade probes while on the most preferred path and at most this RTT (goodEnoughLatency). */
export const GOOD_ENOUGH_RTT_MS = 5;
/** Latency probes of the other candidates start this long after connecting, this far apart. */
export const PROBE_GAP_MS = 1_000;
/**
 * The periodic triggers (latency probes, upgrade sweeps, liveness rounds) wait their interval
 * give or take up to this fraction of it, at random (select.ts `jittered`). Two wgm sides started together with the same
 * constants would otherwise probe at the same moments, and two handshakes crossing cost an
 * extra round trip to settle on one keypair. Rekey rounds wait up to REKEY_TIMEOUT_JITTER_MAX_MS
 * (wireguard-go's and the kernel's jitter on their handshake timers).
 */
export const PERIODIC_JITTER_RATIO = 0.25;
/** Per-candidate backoff after a failure: starts here, doubles, capped. */
export const CANDIDATE_BACKOFF_MIN_MS = 5_000;
export const CANDIDATE_BACKOFF_MAX_MS = 300_000;

// ---- Policy ----

/** Candidates are compared by the least of their last few RTT samples... */
export const MIN_RTT_SAMPLES = 3;
/** ...none of them more than this much older than the newest. */
export const MIN_RTT_WINDOW_MS = 300_000;
/**
 * In the probes after connecting, a candidate whose figure rests on fewer than MIN_RTT_SAMPLES
 * samples and is within this factor of the best figure is probed again before it is ruled out
 * (one busy moment at either end inflates a sample several-fold on fast paths).
 */
export const REPROBE_RATIO = 3;

/** Latency policy: a path must be this much faster, relatively and absolutely, to take over. */
export const LATENCY_MARGIN_RATIO = 0.1;
export const LATENCY_MARGIN_MS = 5;
/** Mirroring onto a second path while the active one is suspect: at most this long. */
export const MIRROR_MAX_MS = 2_000;
