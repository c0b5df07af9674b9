// WireGuard's transport nonce (whitepaper 5.4.6), on its own: the data-plane workers need it
// without the AEAD implementations of aead.ts, whose modules (node:crypto, @noble/ciphers)
// would take room in each worker's heap for nothing.

/** Bytes in a ChaCha20-Poly1305 nonce (RFC 8439). */
const NONCE_LEN = 12;

/** WireGuard's nonce for a message counter: 32 zero bits, then the counter as u64 LE. */
export function counterNonce(counter: number, out: Uint8Array = new Uint8Array(NONCE_LEN)): Uint8Array {
  if (!(Number.isSafeInteger(counter) && counter >= 0)) throw new RangeError(`bad AEAD counter ${counter}`);
  out.fill(0, 0, 4);
  const lo = counter >>> 0;
  const hi = Math.floor(counter / 2 ** 32);
  out[4] = lo & 0xff;
  out[5] = (lo >>> 8) & 0xff;
  out[6] = (lo >>> 16) & 0xff;
  out[7] = lo >>> 24;
  out[8] = hi & 0xff;
  out[9] = (hi >>> 8) & 0xff;
  out[10] = (hi >>> 16) & 0xff;
  out[11] = hi >>> 24;
  return out;
}
