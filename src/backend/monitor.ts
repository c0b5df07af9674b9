// The client half of wgm's `wgm_monitor` UAPI operation (src/uapi/monitor.ts): one connection
// per interface that stays open and yields path events as the daemon writes them.

import { createConnection } from 'node:net';
import { EPROTO } from '../uapi/errno.js';
import { LineSplitter } from '../uapi/lines.js';
import { decodePathEvent, MONITOR_OP, type PathEvent } from '../uapi/monitor.js';
import { backendError, errnoOf, socketPath } from './uapi.js';

export interface MonitorStream {
  /** Settles when the stream ends: resolves when the daemon closed it after it was accepted. */
  done: Promise<void>;
  close(): void;
}

/**
 * Opens a monitor stream on NAME's socket. Resolves once the daemon accepted it (`errno=0`);
 * rejects with a backend error when it cannot connect, and with EPROTONOSUPPORT when the daemon
 * closes the connection without answering (a daemon without the operation, such as
 * wireguard-go) or answers with an error.
 */
export function monitor(name: string, onEvent: (ev: PathEvent) => void): Promise<MonitorStream> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path: socketPath(name) });
    const split = new LineSplitter();
    let accepted = false;
    let endDone: () => void = () => {};
    let failDone: (e: unknown) => void = () => {};
    const done = new Promise<void>((res, rej) => {
      endDone = res;
      failDone = rej;
    });
    const fail = (e: unknown) => {
      sock.destroy();
      if (accepted) failDone(e);
      else reject(e);
    };
    sock.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = [...split.push(chunk)];
      } catch (e) {
        fail(e);
        return;
      }
      for (const line of lines) {
        if (!accepted) {
          if (line !== 'errno=0') {
            fail(backendError(93, name, 'uapi'));
            return;
          }
          accepted = true;
          resolve({ done, close: () => sock.destroy() });
          continue;
        }
        try {
          onEvent(decodePathEvent(line));
        } catch {
          fail(backendError(EPROTO, name, 'uapi'));
          return;
        }
      }
    });
    sock.once('error', (e) => fail(backendError(errnoOf(e), name, 'uapi', e)));
    sock.once('close', () => {
      if (accepted) endDone();
      else reject(backendError(93, name, 'uapi'));
    });
    sock.once('connect', () => sock.write(`${MONITOR_OP}\n\n`));
  });
}

export type { PathEvent };
