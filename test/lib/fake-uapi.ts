// A fake UAPI server on /var/run/wireguard/NAME.sock: it answers every `get` with a canned
// reply and records every `set` request verbatim (wg-compat section 8). It is how the tests see
// exactly what stock `wg` sends for a command, and how they feed any client crafted replies.

import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export const UAPI_DIR = '/var/run/wireguard';

export interface FakeUapiOptions {
  /** Reply to `get=1`, without the final empty line. Default: `errno=0`. */
  getReply?: string;
  /** Reply to `set=1`, without the final empty line. Default: `errno=0`. */
  setReply?: string;
  /** Full control: given each request's text (up to and including the blank line), return raw bytes to send, or null to close. */
  raw?: (request: string) => string | Buffer | null;
}

export interface FakeUapi {
  name: string;
  path: string;
  /** Every request received, verbatim, in order (each ends with the blank line). */
  requests: string[];
  /** The `set` requests only. */
  sets(): string[];
  options: FakeUapiOptions;
  close(): Promise<void>;
}

export async function startFakeUapi(name: string, options: FakeUapiOptions = {}): Promise<FakeUapi> {
  mkdirSync(UAPI_DIR, { recursive: true, mode: 0o755 });
  const path = join(UAPI_DIR, `${name}.sock`);
  rmSync(path, { force: true });
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end < 0) break;
        const req = buf.slice(0, end + 2);
        buf = buf.slice(end + 2);
        requests.push(req);
        let reply: string | Buffer | null;
        if (options.raw) reply = options.raw(req);
        else if (req.startsWith('get=1\n')) reply = `${options.getReply ?? 'errno=0'}\n\n`;
        else if (req.startsWith('set=1\n')) reply = `${options.setReply ?? 'errno=0'}\n\n`;
        else reply = null;
        if (reply === null) {
          sock.destroy();
          return;
        }
        sock.write(reply);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    name,
    path,
    requests,
    options,
    sets: () => requests.filter((r) => r.startsWith('set=1\n')),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
    },
  };
}
