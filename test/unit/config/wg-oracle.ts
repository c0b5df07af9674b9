// Stock `wg` as the oracle for the config tests: run it against the recording fake UAPI server
// (test/lib/fake-uapi.ts), decode the set request it sent, and turn a wgm model into the same
// decoded shape so the two can be compared field by field.

import { spawn } from 'node:child_process';
import { keyToHex } from '../../../src/crypto/keys.js';
import { type Device, KEY_LEN } from '../../../src/model/index.js';
import { formatAllowedIP, formatSockAddr } from '../../../src/model/inet.js';
import { type FakeUapi, startFakeUapi } from '../../lib/fake-uapi.js';

export interface ReqPeer {
  publicKey: string;
  remove: boolean;
  presharedKey?: string;
  endpoint?: string;
  keepalive?: number;
  replaceAllowedIPs: boolean;
  allowedIPs: string[];
}

export interface Req {
  privateKey?: string;
  listenPort?: number;
  fwmark?: number;
  replacePeers: boolean;
  peers: ReqPeer[];
}

/** Decodes a UAPI `set=1` request as wg writes it. Unknown keys fail the decode. */
export function decodeSet(text: string): Req {
  const lines = text.split('\n');
  if (lines[0] !== 'set=1') throw new Error(`not a set request: ${JSON.stringify(text)}`);
  const req: Req = { replacePeers: false, peers: [] };
  let peer: ReqPeer | undefined;
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peer = { publicKey: value, remove: false, replaceAllowedIPs: false, allowedIPs: [] };
      req.peers.push(peer);
    } else if (!peer) {
      if (key === 'private_key') req.privateKey = value;
      else if (key === 'listen_port') req.listenPort = Number(value);
      else if (key === 'fwmark') req.fwmark = Number(value);
      else if (key === 'replace_peers' && value === 'true') req.replacePeers = true;
      else throw new Error(`unexpected device line ${line}`);
    } else if (key === 'remove' && value === 'true') peer.remove = true;
    else if (key === 'preshared_key') peer.presharedKey = value;
    else if (key === 'endpoint') peer.endpoint = value;
    else if (key === 'persistent_keepalive_interval') peer.keepalive = Number(value);
    else if (key === 'replace_allowed_ips' && value === 'true') peer.replaceAllowedIPs = true;
    else if (key === 'allowed_ip') peer.allowedIPs.push(value);
    else throw new Error(`unexpected peer line ${line}`);
  }
  return req;
}

/**
 * What wg would send for this model: `setconf` resets what the file leaves out (zero private
 * key, port 0, fwmark 0, replace peers); a peer's endpoint is the last one, as wg keeps it.
 */
export function expectedSet(device: Device, mode: 'setconf' | 'set'): Req {
  const zero = new Uint8Array(KEY_LEN);
  const req: Req = { replacePeers: mode === 'setconf', peers: [] };
  const privateKey = device.privateKey ?? (mode === 'setconf' ? zero : undefined);
  if (privateKey) req.privateKey = keyToHex(privateKey);
  const listenPort = device.listenPort ?? (mode === 'setconf' ? 0 : undefined);
  if (listenPort !== undefined) req.listenPort = listenPort;
  const fwmark = device.fwmark ?? (mode === 'setconf' ? 0 : undefined);
  if (fwmark !== undefined) req.fwmark = fwmark;
  for (const p of device.peers) {
    const rp: ReqPeer = {
      publicKey: keyToHex(p.publicKey ?? zero),
      remove: p.remove,
      replaceAllowedIPs: p.replaceAllowedIPs,
      allowedIPs: p.allowedIPs.map(formatAllowedIP),
    };
    if (p.presharedKey) rp.presharedKey = keyToHex(p.presharedKey);
    const last = p.endpoints.at(-1);
    if (last?.addr) rp.endpoint = formatSockAddr(last.addr);
    if (p.persistentKeepalive !== undefined) rp.keepalive = p.persistentKeepalive;
    req.peers.push(rp);
  }
  return req;
}

export interface WgResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The set requests the fake server received during this run. */
  sets: string[];
}

/** One fake UAPI interface for a test file, with a name no other test uses. */
export class WgOracle {
  private constructor(readonly uapi: FakeUapi) {}

  static async start(tag: string): Promise<WgOracle> {
    const name = `cf${tag}${process.pid % 100000}`.slice(0, 15);
    return new WgOracle(await startFakeUapi(name));
  }

  get name(): string {
    return this.uapi.name;
  }

  /** Runs `wg <verb> <iface> ...args` (asynchronously, so the fake server can answer). */
  async run(
    verb: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
    timeoutMs = 20_000,
  ): Promise<WgResult> {
    const before = this.uapi.requests.length;
    const child = spawn('wg', [verb, this.uapi.name, ...args], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    const outChunks: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    child.stdout.on('data', (d: Buffer) => outChunks.push(d));
    const status = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`wg ${verb} ${args.join(' ')} timed out`));
      }, timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    const sets = this.uapi.requests.slice(before).filter((r) => r.startsWith('set=1\n'));
    const stdout = Buffer.concat(outChunks).toString('utf8');
    return { status, stdout, stderr: Buffer.concat(chunks).toString('utf8'), sets };
  }

  close(): Promise<void> {
    return this.uapi.close();
  }
}

/** Removes a leading `file:N: ` from each line (wgm adds locations; wg never does). */
export function stripLocations(text: string, file: string): string {
  const prefix = `${file}:`;
  return text
    .split('\n')
    .map((l) => {
      if (!l.startsWith(prefix)) return l;
      const m = /^\d+: /.exec(l.slice(prefix.length));
      return m ? l.slice(prefix.length + m[0].length) : l;
    })
    .join('\n');
}

const HIDDEN = /\(hidden, (\d+) characters\)/;

/**
 * wg's text with each secret replaced the way wgm replaces it (wgm never prints a private or
 * preshared key): where wgm's line shows `(hidden, N characters)` and wg's line is the same
 * text with an N-character value in its place, wg's line is taken as wgm's. Nothing else is
 * forgiven.
 */
export function hideLike(wgText: string, wgmText: string): string {
  const mine = wgmText.split('\n');
  return wgText
    .split('\n')
    .map((line, i) => {
      const m = mine[i];
      const h = m === undefined ? null : HIDDEN.exec(m);
      if (!m || !h) return line;
      const prefix = m.slice(0, h.index);
      const suffix = m.slice(h.index + h[0].length);
      if (!line.startsWith(prefix) || !line.endsWith(suffix)) return line;
      const value = line.slice(prefix.length, line.length - suffix.length);
      return value.length === Number(h[1]) ? m : line;
    })
    .join('\n');
}
