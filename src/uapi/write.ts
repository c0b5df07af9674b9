// Writing UAPI text to a stream socket with backpressure, in chunks of about 64 KiB, so a
// 130,000-line request or reply is never built whole. Shared by the client (backend/uapi.ts)
// and wgm-engine's server (engine/uapi-server.ts).

import type { Socket } from 'node:net';

export const WRITE_CHUNK = 64 * 1024;

/** Writes `pieces` in order; stops early when `stop()` turns true or the socket is destroyed. */
export async function writeChunked(
  sock: Socket,
  pieces: Iterable<string>,
  stop: () => boolean = () => false,
): Promise<void> {
  let buf = '';
  const flush = async () => {
    const data = buf;
    buf = '';
    if (data.length === 0 || stop() || sock.destroyed) return;
    if (!sock.write(data, 'latin1')) {
      await new Promise<void>((resolve) => {
        const done = () => {
          sock.off('drain', done);
          sock.off('close', done);
          resolve();
        };
        sock.on('drain', done);
        sock.on('close', done);
      });
    }
  };
  for (const piece of pieces) {
    if (stop()) return;
    buf += piece;
    if (buf.length >= WRITE_CHUNK) await flush();
  }
  await flush();
}
