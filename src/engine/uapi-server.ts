// The UAPI server of wgm-engine: /var/run/wireguard/IF.sock, the cross-platform protocol as
// wireguard-go serves it (device/uapi.go, IpcHandle), with wgm's extension keys (man/wgm-engine.8). The codec is the one the client uses (src/uapi).
//
// As wireguard-go: any number of operations per connection; `get=1` must be followed by an
// empty line (anything else: `errno=-22`, and the rest of that line is read as the next
// operation); an unknown operation is logged and the connection closed without a reply; every
// operation is answered with `errno=N` and an empty line. Operations of all connections run one
// at a time, in arrival order.
//
// One deliberate difference: a `set` is atomic. The server reads the whole request (to its
// empty line) and checks every line before applying any; a malformed request gets the errno of
// its first bad line and leaves the device exactly as it was. wireguard-go applies line by
// line, so its device keeps the changes made before the bad line, and it stops reading there.
// Failures that only applying can show (rebinding the port: EADDRINUSE) are tried first,
// before anything else changes. A request cut short by the end of the connection is dropped.

import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { WgError } from '../model/errors.js';
import {
  type Device,
  type EndpointState,
  newDevice,
  newPeer,
  type Peer,
  type SockAddr,
} from '../model/index.js';
import { formatSockAddr } from '../model/inet.js';
import { EINVAL, EIO, ENOMEM, encodeErrnoLine } from '../uapi/errno.js';
import { encodeGetReply, type GetExtensions } from '../uapi/get.js';
import { LineSplitter } from '../uapi/lines.js';
import { encodePathEvent, MONITOR_OP, type PathEvent } from '../uapi/monitor.js';
import { type SetOp, SetRequestDecoder } from '../uapi/set.js';
import { writeChunked } from '../uapi/write.js';
import type { Logger } from './log.js';

export const UAPI_DIR = '/var/run/wireguard';

/** The socket path of interface `ifname`. */
export function uapiSocketPath(ifname: string): string {
  return `${UAPI_DIR}/${ifname}.sock`;
}

/** Lines of one set request held at most (a bound on memory; the request fails with ENOMEM). */
export const MAX_SET_LINES = 1 << 22;

/** Bytes of path events a monitoring client may leave unread before it is dropped. */
export const MAX_MONITOR_BACKLOG = 1 << 20;

/** A set request, folded into one typed change. */
export interface SetRequest {
  change: Device;
}

/** One candidate endpoint of a peer as endpoint selection sees it. */
export interface CandidateView {
  /** As `endpoint=` prints it. */
  endpoint: string;
  addr: SockAddr;
  source: 'config' | 'resolved' | 'learned';
  /** The `Endpoint` line (0 = most preferred); learned ones come after every line. */
  rank: number;
  state: EndpointState['state'];
  /** Smoothed round-trip time, ms. */
  rttMs?: number;
  /** When the path last answered a handshake (ms since the Unix epoch). */
  lastSuccess?: number;
  /** Failed rounds since its last success. */
  failures: number;
}

/** What the server needs from the device. */
export interface UapiDevice {
  /** The device as a get reports it, with the extension keys to announce. */
  get(): { device: Device; ext: GetExtensions };
  /** Per peer (hex public key), its candidates: the `wgm_endpoint_*` lines of a get. */
  candidates?(publicKeyHex: string): CandidateView[] | undefined;
  /** Applies a whole set request; resolves to 0 or a positive errno (nothing applied then). */
  set(req: SetRequest): Promise<number>;
  /** Calls `fn` on every path event until the returned function is called (`wgm_monitor`). */
  onPath?(fn: (ev: PathEvent) => void): () => void;
}

/**
 * Folds decoded set operations into one change with the meaning of applying them in order:
 * `replace_peers` drops the peers before it, `replace_allowed_ips` the prefixes before it,
 * `endpoint=` replaces the candidates, `wgm_replace_endpoints` empties them.
 */
export class SetFolder {
  readonly change = newDevice();
  private peer: Peer | undefined;

  add(op: SetOp): void {
    const d = this.change;
    const p = this.peer;
    switch (op.key) {
      case 'private_key':
        d.privateKey = op.value;
        return;
      case 'listen_port':
        d.listenPort = op.value;
        return;
      case 'fwmark':
        d.fwmark = op.value;
        return;
      case 'replace_peers':
        d.replacePeers = true;
        d.peers = [];
        return;
      case 'public_key':
        this.peer = newPeer({ publicKey: op.value });
        d.peers.push(this.peer);
        return;
    }
    if (!p) return; // the decoder refuses peer keys before a public_key
    switch (op.key) {
      case 'remove':
        p.remove = true;
        return;
      case 'update_only':
        p.updateOnly = true;
        return;
      case 'preshared_key':
        p.presharedKey = op.value;
        return;
      case 'endpoint':
        p.endpoints = [{ addr: op.value }];
        p.clearEndpoints = undefined;
        return;
      case 'wgm_replace_endpoints':
        p.endpoints = [];
        p.clearEndpoints = true;
        return;
      case 'wgm_endpoint':
        p.endpoints.push({ addr: op.value });
        p.clearEndpoints = undefined;
        return;
      case 'wgm_endpoint_name':
        p.endpoints.push({ name: op.value });
        p.clearEndpoints = undefined;
        return;
      case 'wgm_endpoint_policy':
        p.policy = op.value;
        return;
      case 'wgm_roaming':
        p.roaming = op.value;
        return;
      case 'persistent_keepalive_interval':
        p.persistentKeepalive = op.value;
        return;
      case 'replace_allowed_ips':
        p.replaceAllowedIPs = true;
        p.allowedIPs = [];
        return;
      case 'allowed_ip':
        p.allowedIPs.push(op.value);
        return;
      case 'protocol_version':
        return;
    }
  }

  request(): SetRequest {
    return { change: this.change };
  }
}

type ConnState =
  | { kind: 'op' }
  | { kind: 'get' }
  | { kind: 'monitor' }
  | { kind: 'streaming' }
  | { kind: 'set'; decoder: SetRequestDecoder; folder: SetFolder; errno: number; lines: number };

export class UapiServer {
  private server: Server | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly sockets = new Set<Socket>();

  /** `onSet` runs after each set request that was applied. */
  constructor(
    private readonly device: UapiDevice,
    private readonly log: Logger,
    private readonly onSet?: () => void,
  ) {}

  /**
   * Listens on `path` (directory 0755, socket 0700 by umask 077). A live socket there is an
   * error (EADDRINUSE: another daemon serves this interface); a stale one is replaced.
   */
  async listen(path: string): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf('/'));
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (existsAsSocket(path)) {
      if (await answers(path)) throw new WgError('io', `${path}: unix socket in use`, { errno: 98 });
      unlinkSync(path);
    }
    // Made under a temporary name and renamed into place once listening: a client that finds
    // the path never finds a socket that refuses it (stock wg deletes such a socket as stale).
    const tmp = `${path}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    const server = createServer({ allowHalfOpen: true }, (s) => this.accept(s));
    const old = process.umask(0o077);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(tmp, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    try {
      chmodSync(tmp, 0o700);
      renameSync(tmp, path);
    } catch (e) {
      server.close();
      rmSync(tmp, { force: true });
      throw e;
    }
    server.on('error', (e) => this.log.error(`UAPI listener: ${e.message}`));
    this.server = server;
  }

  /** Stops accepting and drops open connections. Does not remove the socket file. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.sockets) c.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Serves one connection (also used by tests with a socket pair). */
  accept(sock: Socket): void {
    this.sockets.add(sock);
    const splitter = new LineSplitter();
    let state: ConnState = { kind: 'op' };
    let closed = false;
    const pending: string[] = [];
    let busy = false;

    const close = () => {
      closed = true;
      sock.destroy();
    };

    // One line at a time; an operation that must wait (a get, a set) pauses the line pump.
    const pump = () => {
      while (!busy && !closed && pending.length > 0) {
        const line = pending.shift()!;
        state = this.step(state, line, sock, close, (work) => {
          busy = true;
          sock.pause();
          this.serialize(work).then(
            () => {
              busy = false;
              if (!closed) sock.resume();
              pump();
            },
            (e) => {
              this.log.error(`UAPI: ${(e as Error).message}`);
              close();
            },
          );
        });
      }
    };

    sock.on('data', (chunk: Buffer) => {
      try {
        for (const line of splitter.push(chunk)) pending.push(line);
      } catch {
        close();
        return;
      }
      pump();
    });
    sock.on('end', () => {
      // A half-finished request is dropped; replies already queued still go out.
      const finish = () => (busy ? setTimeout(finish, 5) : sock.end());
      finish();
    });
    sock.on('error', () => close());
    sock.on('close', () => {
      closed = true;
      this.sockets.delete(sock);
    });
  }

  private serialize(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }

  private step(
    state: ConnState,
    line: string,
    sock: Socket,
    close: () => void,
    run: (work: () => Promise<void>) => void,
  ): ConnState {
    switch (state.kind) {
      case 'op':
        if (line === 'get=1') return { kind: 'get' };
        if (line === 'set=1')
          return {
            kind: 'set',
            decoder: new SetRequestDecoder(),
            folder: new SetFolder(),
            errno: 0,
            lines: 0,
          };
        if (line === MONITOR_OP && this.device.onPath) return { kind: 'monitor' };
        this.log.error(`invalid UAPI operation: ${JSON.stringify(`${line}\n`)}`);
        // After the replies already queued on this connection have gone out.
        run(async () => close());
        return state;
      case 'get':
        if (line !== '') {
          // wireguard-go reads one byte after `get=1\n`; the rest of the line is the next operation.
          this.log.error(`IPC error -22: trailing character in UAPI get: ${JSON.stringify(line[0])}`);
          run(() => writeChunked(sock, [encodeErrnoLine(EINVAL), '\n']));
          return this.step({ kind: 'op' }, line.slice(1), sock, close, run);
        }
        run(() => {
          const { device, ext } = this.device.get();
          if (this.device.candidates) fillCandidates(device, this.device.candidates.bind(this.device));
          return writeChunked(sock, encodeGetReply(device, ext));
        });
        return { kind: 'op' };
      case 'monitor': {
        // As for get: the operation ends with an empty line. Then the connection is the
        // client's stream: errno=0 at once, one wgm_path= line per event, until it closes.
        if (line !== '') {
          run(() => writeChunked(sock, [encodeErrnoLine(EINVAL), '\n']));
          return { kind: 'op' };
        }
        run(async () => {
          await writeChunked(sock, [encodeErrnoLine(0)]);
          const stop = this.device.onPath!((ev) => {
            if (sock.destroyed) return;
            // A client that stopped reading is dropped rather than buffered for without end.
            if (sock.writableLength > MAX_MONITOR_BACKLOG) sock.destroy();
            else sock.write(encodePathEvent(ev));
          });
          sock.once('close', stop);
        });
        return { kind: 'streaming' };
      }
      case 'streaming':
        return state; // a monitoring client has nothing more to say; its lines are ignored
      case 'set': {
        if (line !== '') {
          if (state.errno === 0) {
            try {
              const op = state.decoder.line(line);
              if (op !== 'end') state.folder.add(op);
              if (++state.lines > MAX_SET_LINES) state.errno = ENOMEM;
            } catch (e) {
              state.errno = e instanceof WgError && e.errno !== undefined ? e.errno : EINVAL;
              this.log.error(`IPC error -${state.errno}: invalid UAPI line: ${redact(line)}`);
            }
          }
          return state;
        }
        const { errno, folder } = state;
        run(async () => {
          let result = errno;
          if (result === 0) {
            try {
              result = await this.device.set(folder.request());
              if (result === 0) this.onSet?.();
            } catch (e) {
              this.log.error(`UAPI set failed: ${(e as Error).message}`);
              result = EIO;
            }
          }
          await writeChunked(sock, [encodeErrnoLine(result), '\n']);
        });
        return { kind: 'op' };
      }
    }
  }
}

/** A line for the log: keys are secrets, so values of key lines are not shown. */
function redact(line: string): string {
  const eq = line.indexOf('=');
  const key = eq < 0 ? line : line.slice(0, eq);
  if (eq < 0) return JSON.stringify(line.slice(0, 64));
  return /key/.test(key) ? `${key}=(hidden)` : JSON.stringify(line.slice(0, 200));
}

function existsAsSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Whether something accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ path });
    const timer = setTimeout(() => done(true), 2000);
    const done = (v: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve(v);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}

/**
 * The `wgm_endpoint_state` / `_rtt_us` / `_last_seen_sec` lines from the device's candidates
 * (learned addresses are no `Endpoint` line and stay out; the last-seen time is the get's).
 */
function fillCandidates(device: Device, candidates: (hex: string) => CandidateView[] | undefined): void {
  for (const p of device.peers) {
    if (!p.publicKey) continue;
    const list = candidates(Buffer.from(p.publicKey).toString('hex'));
    if (!list) continue;
    const seen = new Map((p.endpointStates ?? []).map((e) => [formatSockAddr(e.addr), e.lastSeenSec]));
    const states: EndpointState[] = [];
    for (const c of list) {
      if (c.source === 'learned') continue;
      const e: EndpointState = { addr: c.addr, state: c.state, lastSeenSec: seen.get(c.endpoint) ?? 0 };
      if (c.rttMs !== undefined) e.rttMs = c.rttMs;
      states.push(e);
    }
    if (states.length > 0) p.endpointStates = states;
  }
}
