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
// Run by startTap as: ip netns exec NS node wire-tap.js DEV (one JSON line per event).

import { fileURLToPath } from 'node:url';
import { check, errno, libc, SysError } from '../../src/sys/libc.js';
import { ifNameToIndex } from '../../src/sys/netlink.js';
import { type Lab, waitFor } from './netns.js';

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
export async function startTap(lab: Lab, ns: string, dev: string): Promise<Tap> {
  const p = lab.spawn(ns, process.execPath, [fileURLToPath(import.meta.url), dev]);
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

const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL = 3)
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const EAGAIN = 11;
const EINTR = 4;
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

function capture(dev: string): void {
  const lib = libc();
  const socket = lib.func('int socket(int, int, int)') as (a: number, b: number, c: number) => number;
  const bind = lib.func('int bind(int, const void *, uint32_t)') as (
    fd: number,
    a: Uint8Array,
    l: number,
  ) => number;
  const setsockopt = lib.func('int setsockopt(int, int, int, const void *, uint32_t)') as (
    fd: number,
    l: number,
    n: number,
    v: Uint8Array,
    len: number,
  ) => number;
  const recv = lib.func('intptr_t recv(int, void *, size_t, int)') as (
    fd: number,
    b: Uint8Array,
    l: number,
    f: number,
  ) => number;

  const index = ifNameToIndex(dev);
  if (index === 0) throw new Error(`no interface ${dev}`);
  const fd = check('socket', socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE));
  const sll = new Uint8Array(20); // struct sockaddr_ll
  const v = new DataView(sll.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, ETH_P_ALL_BE, true);
  v.setInt32(4, index, true);
  check('bind', bind(fd, sll, sll.length));
  const tv = new Uint8Array(16);
  new DataView(tv.buffer).setBigInt64(8, 100_000n, true); // 100 ms: signals get a turn
  check('setsockopt', setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16));
  const emit = (e: TapEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);
  emit({ type: 'ready', t: Date.now() });
  const seen = new Set<string>();
  const buf = Buffer.alloc(1 << 17);
  const loop = () => {
    for (let i = 0; i < 10_000; i++) {
      const n = Number(recv(fd, buf, buf.length, 0));
      if (n < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) throw new SysError('recv', e);
        break;
      }
      const ev = parseFrame(buf.subarray(0, n), Date.now());
      if (!ev) continue;
      if (ev.type === 'data') {
        const key = `${ev.from} ${ev.to} ${ev.receiver}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      emit(ev);
    }
    setImmediate(loop);
  };
  loop();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dev = process.argv[2];
  if (!dev) {
    console.error('usage: wire-tap.js DEV');
    process.exit(2);
  }
  capture(dev);
}
