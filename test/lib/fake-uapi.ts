// A fake UAPI server on /var/run/wireguard/NAME.sock: it answers every `get` with a canned reply
// and records every `set` request verbatim (the other side of wireguard-tools src/ipc-uapi.h). It
// is how the tests see exactly what stock `wg` sends for a command, and how they feed any client
// crafted replies.

import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { RunResult } from './run.js';

export const UAPI_DIR = '/var/run/wireguard';

export interface FakeUapiOptions {
  /**
   * Reply to `get=1`, without the final empty line. Default: `errno=0`. `{{NOW}}`, `{{NOW+n}}`
   * and `{{NOW-n}}` become the Unix second at the time of the request (see expandNow).
   */
  getReply?: string;
  /** Reply to `set=1`, without the final empty line. Default: `errno=0`. */
  setReply?: string;
  /** Full control: given each request's text (up to and including the blank line), return raw bytes to send, or null to close. */
  raw?: (request: string) => string | Buffer | null;
  /** Exact bytes to answer every request with (no empty line added): truncated or malformed replies. */
  rawReply?: string;
  /** Never answer: keep the connection open and silent (a hung daemon). */
  hang?: boolean;
  /** Close the connection after sending each reply (a daemon that exits, or a truncated reply). */
  closeAfterReply?: boolean;
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
        if (options.hang) continue;
        let reply: string | Buffer | null;
        if (options.raw) reply = options.raw(req);
        else if (options.rawReply !== undefined) reply = expandNow(options.rawReply);
        else if (req.startsWith('get=1\n')) reply = `${expandNow(options.getReply ?? 'errno=0')}\n\n`;
        else if (req.startsWith('set=1\n')) reply = `${options.setReply ?? 'errno=0'}\n\n`;
        else reply = null;
        if (reply === null) {
          sock.destroy();
          return;
        }
        if (options.closeAfterReply) {
          sock.end(reply);
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

/**
 * Runs a command without blocking this process's event loop, so that fake servers started here
 * can answer it (spawnSync would deadlock them). Kills it after `timeoutMs`.
 */
export function runAsync(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult & { ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        status,
        signal,
        stdout: stdoutBytes.toString('latin1'),
        stderr: Buffer.concat(err).toString('latin1'),
        stdoutBytes,
        ms: performance.now() - started,
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Replaces `{{NOW}}`, `{{NOW+n}}`, `{{NOW-n}}` with the current Unix second (plus or minus n). */
export function expandNow(text: string, now: bigint = BigInt(Math.floor(Date.now() / 1000))): string {
  return text.replace(/\{\{NOW(?:([+-])([0-9]+))?\}\}/g, (_m, sign?: string, n?: string) => {
    if (!sign || !n) return String(now);
    return String(sign === '+' ? now + BigInt(n) : now - BigInt(n));
  });
}

export interface IsolatedDevice {
  name: string;
  options: Omit<FakeUapiOptions, 'raw'>;
}

export interface IsolatedCommand {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface IsolatedResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
  /**
   * With `sameSecond`, on the pair's second result: how many wall-clock seconds apart the two
   * ended after the last try (0: within one second, "ago" texts comparable).
   */
  secondsApart?: number;
}

/**
 * Runs commands against fake UAPI servers in a private mount namespace whose
 * /var/run/wireguard is an empty tmpfs, so that `show all` and listing see exactly these
 * devices, whatever else runs on the machine. Each pair runs back to back; with `sameSecond`,
 * a pair starts just after a second boundary and is repeated (up to 5 times) until both ran
 * within one wall-clock second, so that "ago" texts are comparable; a loaded machine may never
 * manage it, and the second result's `secondsApart` then says so. `setup` is a shell command
 * run in the namespace before the servers start (e.g. to replace the socket dir by a file).
 * Needs root and unshare(1).
 */
export async function runIsolated(
  devices: IsolatedDevice[],
  pairs: Array<[IsolatedCommand, IsolatedCommand]>,
  opts: { timeoutMs?: number; sameSecond?: boolean; setup?: string } = {},
): Promise<Array<[IsolatedResult, IsolatedResult]>> {
  const self = new URL(import.meta.url).pathname;
  const code = `
    import { startFakeUapi, runAsync } from ${JSON.stringify(self)};
    const spec = JSON.parse(process.env.WGM_ISOLATED_SPEC);
    for (const d of spec.devices) await startFakeUapi(d.name, d.options);
    const sec = () => Math.floor(Date.now() / 1000);
    // The text forms only (IsolatedResult): the bytes would swell the JSON written back.
    const run = async (c) => {
      const { stdoutBytes, ...r } = await runAsync(c.cmd, c.args, { env: { ...process.env, WGM_ISOLATED_SPEC: '', ...(c.env ?? {}) }, timeoutMs: c.timeoutMs });
      return r;
    };
    const out = [];
    const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10));
    for (const [a, b] of spec.pairs) {
      let ra, rb;
      for (let i = 0; i < 5; i++) {
        if (spec.sameSecond) await nextSecond();
        const s0 = sec();
        ra = await run(a);
        rb = await run(b);
        if (spec.sameSecond) rb.secondsApart = sec() - s0;
        if (!spec.sameSecond || sec() === s0) break;
      }
      out.push([ra, rb]);
    }
    process.stdout.write(JSON.stringify(out));
    process.exit(0);
  `;
  const script = `mkdir -p /run/wireguard && mount -t tmpfs -o mode=0755 tmpfs /run/wireguard && ${opts.setup ?? 'true'} && exec ${JSON.stringify(process.execPath)} --input-type=module -e "$WGM_ISOLATED_CODE"`;
  const r = await runAsync('unshare', ['-m', 'sh', '-c', script], {
    env: {
      ...process.env,
      WGM_ISOLATED_SPEC: JSON.stringify({ devices, pairs, sameSecond: opts.sameSecond === true }),
      WGM_ISOLATED_CODE: code,
    },
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
  if (r.status !== 0) throw new Error(`isolated run failed (${r.status} ${r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<[IsolatedResult, IsolatedResult]>;
}
