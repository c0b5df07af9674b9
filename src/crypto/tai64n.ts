// TAI64N timestamps (https://cr.yp.to/libtai/tai64.html) as WireGuard's initiations carry them:
// 8 bytes big-endian seconds with the TAI64 label, 4 bytes big-endian nanoseconds.
//
// Like the kernel and wireguard-go, the label is 2^62 + 10 + Unix seconds (the 10 s TAI−UTC
// offset of 1970), and the nanoseconds are "whitened": their low 24 bits are cleared, so a
// timestamp reveals the clock only to ≈16.8 ms. This module reads no clock: callers pass the
// wall time in nanoseconds since the Unix epoch.

export const TAI64N_LEN = 12;
/** TAI64 label of the Unix epoch: 2^62 + 10. */
export const TAI64_BASE = 0x400000000000000an;
/** Low bits of the nanoseconds cleared by wireguard-go and the kernel (2^24 − 1). */
export const TAI64N_WHITENER_MASK = 0xffffff;
/** The granularity that whitening leaves: 2^24 ns. */
export const TAI64N_GRANULARITY_NS = 0x1000000n;

const NS_PER_SEC = 1_000_000_000n;

/** The whitened timestamp of a wall time in ns since the Unix epoch (must be ≥ 0). */
export function tai64n(unixNs: bigint): Uint8Array {
  if (unixNs < 0n) throw new RangeError('TAI64N of a time before 1970');
  const secs = TAI64_BASE + unixNs / NS_PER_SEC;
  const nanos = Number(unixNs % NS_PER_SEC) & ~TAI64N_WHITENER_MASK;
  return encodeTai64n(secs, nanos);
}

/** Lays out a label and a nanosecond count (no whitening). */
export function encodeTai64n(label: bigint, nanos: number): Uint8Array {
  const out = new Uint8Array(TAI64N_LEN);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, label, false);
  v.setUint32(8, nanos >>> 0, false);
  return out;
}

/** The Unix time in ns that a timestamp stands for (for logs and tests). */
export function tai64nToUnixNs(t: Uint8Array): bigint {
  if (t.length !== TAI64N_LEN) throw new RangeError('TAI64N is 12 bytes');
  const v = new DataView(t.buffer, t.byteOffset, t.length);
  return (v.getBigUint64(0, false) - TAI64_BASE) * NS_PER_SEC + BigInt(v.getUint32(8, false));
}

/** −1, 0 or 1: timestamps compare as big-endian byte strings (the kernel's memcmp). */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < TAI64N_LEN; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * The next timestamp for a peer: the whitened wall time, but always at least one granule (2^24 ns)
 * after the previous one, so that a responder never sees it as a replay:
 * T = max(whiten(now), T_prev + 2^24 ns) (docs/endpoint-selection.md, "Why racing is safe against
 * a standard peer").
 */
export function nextTai64n(unixNs: bigint, previous: Uint8Array | undefined): Uint8Array {
  const now = tai64n(unixNs);
  if (!previous || compareTai64n(now, previous) > 0) return now;
  const bumped = tai64nToUnixNs(previous) + TAI64N_GRANULARITY_NS;
  return tai64n(bumped < 0n ? 0n : bumped);
}
