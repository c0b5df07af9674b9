// Watches the WireGuard messages crossing one link, from outside both implementations: an
// AF_PACKET socket (through koffi) on a veth inside a namespace sees every UDP datagram either
// end sends, and reports each handshake message and the first transport-data packet of every
// (direction, receiver index), which is how a new keypair shows on the wire (whitepaper 5.4:
// the receiver index names the session the packet is encrypted for).
//
//   const tap = await startTap(lab, ns, veth);   // a child process, killed by lab.cleanup()
//   ... traffic ...
//   tap.events  // [{ type: 'init', from, to, t, sender }, { type: 'data', receiver, counter, ... }]
//
// With `{ afterHandshakes: true }` the first data packet of every (direction, receiver index) is
// reported again after each handshake message, so that a packet on an index the peer dropped in
// that handshake shows (test/lib/index-audit.ts counts those).
//
// Run by startTap as: ip netns exec NS node wire-tap.js DEV [--after-handshakes] (one JSON line
// per event).

import { fileURLToPath } from 'node:url';
import { type Lab, waitFor } from './netns.js';
import { openPacketSocket } from './packet-socket.js';

/** Message types (whitepaper 5.4.2-5.4.7). */
const MESSAGE_INITIATION = 1;
const MESSAGE_RESPONSE = 2;
const MESSAGE_COOKIE_REPLY = 3;
const MESSAGE_DATA = 4;

export type TapEvent =
  | { type: 'ready'; t: number }
  | { type: 'init'; t: number; from: string; to: string; sender: number }
  | { type: 'resp'; t: number; from: string; to: string; sender: number; receiver: number }
  | { type: 'cookie'; t: number; from: string; to: string; receiver: number }
  /** The first data packet seen from `from` to `to` for this receiver index. */
  | { type: 'data'; t: number; from: string; to: string; receiver: number; counter: number };

export interface Tap {
  /** Events so far, in the order seen. */
  readonly events: TapEvent[];
  /** What the tap wrote to stderr (for failure messages). */
  stderr(): string;
}

/** Starts a tap on `dev` in `ns` and waits until its socket is bound. */
export async function startTap(
  lab: Lab,
  ns: string,
  dev: string,
  opts: { afterHandshakes?: boolean } = {},
): Promise<Tap> {
  const args = [fileURLToPath(import.meta.url), dev];
  if (opts.afterHandshakes) args.push('--after-handshakes');
  const p = lab.spawn(ns, process.execPath, args);
  const events: TapEvent[] = [];
  let partial = '';
  let err = '';
  p.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l) events.push(JSON.parse(l) as TapEvent);
  });
  p.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await waitFor(`the wire tap on ${dev}`, () => {
    if (p.exitCode !== null) throw new Error(`wire tap exited: ${err}`);
    return events.some((e) => e.type === 'ready');
  });
  return { events, stderr: () => err };
}

// ---- The capturing process ----

const ETH_HLEN = 14;
const IPPROTO_UDP = 17;

function ipv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function ipv6(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The WireGuard event a frame carries, or undefined (not UDP, a fragment, or not WireGuard). */
export function parseFrame(b: Buffer, t: number): TapEvent | undefined {
  if (b.length < ETH_HLEN + 28) return undefined;
  const ethertype = b.readUInt16BE(12);
  let from: string;
  let to: string;
  let udp: number;
  if (ethertype === 0x0800) {
    const ihl = (b[ETH_HLEN]! & 0x0f) * 4;
    const frag = b.readUInt16BE(ETH_HLEN + 6);
    if (b[ETH_HLEN + 9] !== IPPROTO_UDP || (frag & 0x3fff) !== 0) return undefined;
    udp = ETH_HLEN + ihl;
    from = ipv4(b, ETH_HLEN + 12);
    to = ipv4(b, ETH_HLEN + 16);
  } else if (ethertype === 0x86dd) {
    if (b[ETH_HLEN + 6] !== IPPROTO_UDP) return undefined;
    udp = ETH_HLEN + 40;
    from = `[${ipv6(b, ETH_HLEN + 8)}]`;
    to = `[${ipv6(b, ETH_HLEN + 24)}]`;
  } else return undefined;
  if (b.length < udp + 8 + 16) return undefined;
  from += `:${b.readUInt16BE(udp)}`;
  to += `:${b.readUInt16BE(udp + 2)}`;
  const m = udp + 8;
  const type = b.readUInt32LE(m);
  const len = b.length - m;
  switch (type) {
    case MESSAGE_INITIATION:
      return len === 148 ? { type: 'init', t, from, to, sender: b.readUInt32LE(m + 4) } : undefined;
    case MESSAGE_RESPONSE:
      return len === 92
        ? { type: 'resp', t, from, to, sender: b.readUInt32LE(m + 4), receiver: b.readUInt32LE(m + 8) }
        : undefined;
    case MESSAGE_COOKIE_REPLY:
      return len === 64 ? { type: 'cookie', t, from, to, receiver: b.readUInt32LE(m + 4) } : undefined;
    case MESSAGE_DATA:
      return len >= 32
        ? {
            type: 'data',
            t,
            from,
            to,
            receiver: b.readUInt32LE(m + 4),
            counter: Number(b.readBigUInt64LE(m + 8)),
          }
        : undefined;
    default:
      return undefined;
  }
}

function capture(dev: string, afterHandshakes: boolean): void {
  const sock = openPacketSocket(dev, { timeoutMs: 100 }); // signals get a turn
  const emit = (e: TapEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);
  emit({ type: 'ready', t: Date.now() });
  const seen = new Set<string>();
  const buf = Buffer.alloc(1 << 17);
  const loop = () => {
    for (let i = 0; i < 10_000; i++) {
      const n = sock.recv(buf);
      if (n < 0) break;
      const ev = parseFrame(buf.subarray(0, n), Date.now());
      if (!ev) continue;
      if (ev.type === 'data') {
        const key = `${ev.from} ${ev.to} ${ev.receiver}`;
        if (seen.has(key)) continue;
        seen.add(key);
      } else if (afterHandshakes) seen.clear();
      emit(ev);
    }
    setImmediate(loop);
  };
  loop();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dev = process.argv[2];
  if (!dev) {
    console.error('usage: wire-tap.js DEV [--after-handshakes]');
    process.exit(2);
  }
  capture(dev, process.argv.includes('--after-handshakes'));
}
