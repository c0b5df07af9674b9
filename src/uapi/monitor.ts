// wgm's `wgm_monitor` operation (docs/uapi-extensions.md): a client writes `wgm_monitor=1` and an
// empty line; a daemon that advertises the `monitor` capability answers `errno=0` and then keeps
// the connection open, writing one `wgm_path=` line per path event as it happens. A stock
// daemon does not know the operation and closes the connection without a word (wireguard-go's
// IpcHandle), which is how a client tells the two apart when it did not ask `get` first.

import { EPROTO, uapiError } from './errno.js';

export const MONITOR_OP = 'wgm_monitor=1';
export const CAPABILITY_MONITOR = 'monitor';

/** A peer's active path changed. */
export interface PathEvent {
  /** The peer's public key, hex. */
  peer: string;
  /** The address before, when there was one. */
  from?: string;
  /** The address now. */
  to: string;
  /** Why, as one word (`configured`, `roamed`, ...). */
  reason: string;
  /** When, in Unix milliseconds. */
  at: number;
}

const WORD = /^[!-~]+$/;

/** `wgm_path=peer=HEX from=ADDR|- to=ADDR reason=WORD at=MS` and a newline. */
export function encodePathEvent(ev: PathEvent): string {
  const reason = ev.reason.replace(/[^!-~]+/g, '-') || '-';
  return `wgm_path=peer=${ev.peer} from=${ev.from ?? '-'} to=${ev.to} reason=${reason} at=${Math.trunc(ev.at)}\n`;
}

/** One `wgm_path=` line (without its newline); EPROTO when it is not one. */
export function decodePathEvent(line: string): PathEvent {
  if (!line.startsWith('wgm_path=')) throw uapiError(EPROTO);
  const fields = new Map<string, string>();
  for (const part of line.slice('wgm_path='.length).split(' ')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw uapiError(EPROTO);
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (!WORD.test(v) || fields.has(k)) throw uapiError(EPROTO);
    fields.set(k, v);
  }
  const peer = fields.get('peer');
  const from = fields.get('from');
  const to = fields.get('to');
  const reason = fields.get('reason');
  const at = fields.get('at');
  if (!peer || !/^[0-9a-f]{64}$/.test(peer) || !from || !to || !reason || !at || !/^[0-9]{1,16}$/.test(at))
    throw uapiError(EPROTO);
  const ev: PathEvent = { peer, to, reason, at: Number(at) };
  if (from !== '-') ev.from = from;
  return ev;
}
