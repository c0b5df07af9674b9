// errno values and the `errno=` lines of the UAPI protocol (wireguard-go device/uapi.go: IPCError and IpcHandle).
//
// The codec reports failures as WgError carrying a positive errno; the backend turns the number
// into glibc's strerror text (this layer may not load libc). The texts below are glibc's for the
// few numbers the protocol itself produces, so that an error is readable even before that.

import { WgError } from '../model/errors.js';

export const EIO = 5;
export const ENOMEM = 12;
export const EINVAL = 22;
export const ENOANO = 55;
export const EPROTO = 71;
export const EADDRINUSE = 98;

const TEXT: Record<number, string> = {
  [EIO]: 'Input/output error',
  [ENOMEM]: 'Cannot allocate memory',
  [EINVAL]: 'Invalid argument',
  [ENOANO]: 'No anode',
  [EPROTO]: 'Protocol error',
  [EADDRINUSE]: 'Address already in use',
};

/** A failure the UAPI codec found, as a WgError with a positive errno. */
export function uapiError(errno: number): WgError {
  return new WgError('protocol', TEXT[errno] ?? `Unknown error ${errno}`, { errno });
}

/** `errno=<n>` as a server writes it: 0 or a negative errno (what wireguard-go sends for get and set). */
export function encodeErrnoLine(errno: number): string {
  return `errno=${errno === 0 ? 0 : -Math.abs(errno)}\n`;
}

/**
 * A reply read the way wg reads one, line by line: lines until the empty one, each split at its
 * first `=`. A line without `=`, or with a NUL inside (wg's strlen would stop short of the
 * newline), is a protocol error. The get and set decoders take the key-value pairs.
 */
export abstract class ReplyReader {
  private ended = false;

  /** Feeds one line (without its `\n`). Returns true once the empty line has ended the reply. */
  line(text: string): boolean {
    if (this.ended) return true;
    if (text.length === 0) {
      this.ended = true;
      return true;
    }
    const eq = text.indexOf('=');
    if (eq < 0 || text.includes('\0')) throw uapiError(EPROTO);
    this.keyValue(text.slice(0, eq), text.slice(eq + 1));
    return false;
  }

  get complete(): boolean {
    return this.ended;
  }

  protected abstract keyValue(key: string, value: string): void;
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/**
 * Reads the reply to a `set` the way wg 1.0.20210914 does: lines until the empty one; each needs
 * `=`; `errno=` takes an optional `-` and digits in int range, and the last one wins; no errno
 * line, a malformed line or end of stream → EPROTO. The status is the number as written: 0 is
 * success, `-22` is EINVAL, and `22` (the wrong sign) is reported as errno -22, which glibc calls
 * `Unknown error -22`.
 */
export class SetReplyDecoder extends ReplyReader {
  private status: number | undefined;

  protected keyValue(key: string, value: string): void {
    if (key !== 'errno') return;
    if (!/^-?[0-9]+$/.test(value)) throw uapiError(EPROTO);
    const n = BigInt(value);
    if (n < BigInt(INT_MIN) || n > BigInt(INT_MAX)) throw uapiError(EPROTO);
    this.status = Number(n);
  }

  /**
   * The outcome once complete: resolves for status 0, throws otherwise. The thrown errno is the
   * negated status (positive for well-behaved servers; wg would print `Unknown error <n>` for the rest).
   */
  result(): void {
    if (!this.complete || this.status === undefined) throw uapiError(EPROTO);
    if (this.status === 0) return;
    // C: errno = -ret, in int arithmetic (INT_MIN stays INT_MIN).
    const errno = this.status === INT_MIN ? INT_MIN : -this.status;
    throw uapiError(errno);
  }
}
