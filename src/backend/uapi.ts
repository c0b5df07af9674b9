// The UAPI client: one operation per connection to /var/run/wireguard/NAME.sock, as wg does
// (wireguard-tools ipc-uapi.h). Replies are decoded while they stream in; requests are written with
// backpressure, and a server that answers before the request is fully written (an error after
// a bad line) stops the writing.
//
// Timeout: wg waits forever for a silent server; wgm gives up after UAPI_IDLE_TIMEOUT_MS
// (15 s) without a byte moving in either direction, with ETIMEDOUT. It is an idle timeout, not
// a total one, so a large device streaming for longer is fine. WGM_UAPI_TIMEOUT_MS overrides it.

import { lstatSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { constants } from 'node:os';
import { WgError } from '../model/errors.js';
import type { Device } from '../model/index.js';
import { strerror } from '../sys/libc.js';
import { EPROTO, SetReplyDecoder } from '../uapi/errno.js';
import { type GetReply, GetReplyDecoder } from '../uapi/get.js';
import { LineSplitter } from '../uapi/lines.js';
import { checkEncodable, encodeSetRequest } from '../uapi/set.js';
import { writeChunked } from '../uapi/write.js';
import { normalizeScopes } from './scope.js';

export const UAPI_DIR = '/var/run/wireguard';
export const UAPI_SUFFIX = '.sock';
export const UAPI_IDLE_TIMEOUT_MS = 15_000;
/** sizeof(sockaddr_un.sun_path) - 1: wg's snprintf cuts a longer path there. */
const SUN_PATH_MAX = 107;
const ETIMEDOUT = 110;

function idleTimeoutMs(): number {
  const v = Number(process.env['WGM_UAPI_TIMEOUT_MS']);
  return Number.isFinite(v) && v > 0 ? v : UAPI_IDLE_TIMEOUT_MS;
}

/** The socket path wg would use for NAME (truncated like its snprintf into sun_path). */
export function socketPath(name: string): string {
  const full = Buffer.from(`${UAPI_DIR}/${name}${UAPI_SUFFIX}`);
  return full.length > SUN_PATH_MAX ? full.subarray(0, SUN_PATH_MAX).toString() : full.toString();
}

/** The positive errno of a Node system error (EIO when it has none we know). */
export function errnoOf(e: unknown): number {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
  const n = (constants.errno as Record<string, number>)[code];
  return n ?? 5;
}

/** A backend failure in wg's words: the message is glibc's strerror of the errno. */
export function backendError(errno: number, iface: string, backend: string, cause?: unknown): WgError {
  return new WgError('backend', strerror(errno), { errno, where: { iface, backend }, cause });
}

function asBackendError(e: unknown, iface: string): WgError {
  if (e instanceof WgError && e.code === 'backend') return e;
  if (e instanceof WgError && e.errno !== undefined) return backendError(e.errno, iface, 'uapi', e);
  if (e instanceof WgError) return e;
  return backendError(errnoOf(e), iface, 'uapi', e);
}

/** A connected socket, or 'refused' when nobody listens (the stale socket has then been removed). */
async function connect(path: string): Promise<Socket | 'refused'> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path });
    const onError = (e: NodeJS.ErrnoException) => {
      sock.destroy();
      if (e.code === 'ECONNREFUSED') {
        // The daemon is gone: clean up its socket, as wg does.
        try {
          unlinkSync(path);
        } catch {}
        resolve('refused');
      } else reject(e);
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      resolve(sock);
    });
  });
}

function isSocketFile(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/**
 * wg's userspace check: no `/` in the name, the path is a socket, and connecting is not refused
 * (a refused connect removes the stale socket). Any other connect failure still counts as userspace.
 */
export async function isUserspace(name: string): Promise<boolean> {
  if (name.includes('/')) return false;
  const path = socketPath(name);
  if (!isSocketFile(path)) return false;
  try {
    const s = await connect(path);
    if (s === 'refused') return false;
    s.destroy();
    return true;
  } catch {
    return true;
  }
}

/** Opens the connection for one operation; 'not-userspace' sends the caller to the kernel. */
async function open(name: string): Promise<Socket | 'not-userspace'> {
  if (name.includes('/')) return 'not-userspace';
  const path = socketPath(name);
  if (!isSocketFile(path)) return 'not-userspace';
  try {
    const s = await connect(path);
    return s === 'refused' ? 'not-userspace' : s;
  } catch (e) {
    throw backendError(errnoOf(e), name, 'uapi', e);
  }
}

interface Exchange {
  /** Feeds one reply line; true when the reply is complete. */
  line(text: string): boolean;
}

/**
 * Runs one request/reply exchange on a connected socket. `request` is written with
 * backpressure; reading starts at once; the promise settles when the reply is complete, the
 * stream ends or fails (EPROTO, as in wg), or nothing moves for the idle timeout (ETIMEDOUT).
 */
function exchange(sock: Socket, request: Iterable<string>, reply: Exchange, iface: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const splitter = new LineSplitter();
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      if (err === undefined) resolve();
      else reject(asBackendError(err, iface));
    };
    sock.setTimeout(idleTimeoutMs(), () => finish(backendError(ETIMEDOUT, iface, 'uapi')));
    sock.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        for (const line of splitter.push(chunk)) {
          if (reply.line(line)) return finish();
        }
      } catch (e) {
        finish(e);
      }
    });
    // End of stream or a read error before the empty line: wg's getline fails, ret = -EPROTO.
    sock.on('end', () => finish(backendError(EPROTO, iface, 'uapi')));
    sock.on('error', () => finish(backendError(EPROTO, iface, 'uapi')));
    sock.on('close', () => finish(backendError(EPROTO, iface, 'uapi')));
    void writeChunked(sock, request, () => settled).catch((e) => finish(e));
  });
}

/** `get=1` over UAPI. Returns 'not-userspace' when NAME has no live socket (then try the kernel). */
export async function uapiGet(name: string): Promise<GetReply | 'not-userspace'> {
  const sock = await open(name);
  if (sock === 'not-userspace') return sock;
  const dec = new GetReplyDecoder();
  await exchange(sock, ['get=1\n\n'], dec, name);
  let reply: GetReply;
  try {
    reply = dec.result();
  } catch (e) {
    throw asBackendError(e, name);
  }
  normalizeScopes(reply.device);
  return reply;
}

/** `set=1` over UAPI. Returns 'not-userspace' when NAME has no live socket. */
export async function uapiSet(
  name: string,
  change: Device,
  multiEndpoint: boolean,
  endpointNames = false,
): Promise<'done' | 'not-userspace'> {
  const opts = { multiEndpoint, endpointNames };
  // Refuse what cannot be encoded before anything reaches the daemon (it applies lines as they come).
  checkEncodable(change, opts);
  const sock = await open(name);
  if (sock === 'not-userspace') return sock;
  const dec = new SetReplyDecoder();
  await exchange(sock, encodeSetRequest(change, opts), dec, name);
  try {
    dec.result();
  } catch (e) {
    throw asBackendError(e, name);
  }
  return 'done';
}

/** The socket file exists (whatever it is), for the probe's report. */
export function socketExists(name: string): boolean {
  try {
    lstatSync(socketPath(name));
    return true;
  } catch {
    return false;
  }
}
