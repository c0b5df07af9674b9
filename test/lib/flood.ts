// A handshake-initiation flood, for tests and benchmarks: what an attacker who knows a
// responder's public key can send. Every message is a 148-byte initiation (type 1) with a
// VALID mac1 for that key (mac1 is keyed by the public key alone, whitepaper 5.4.4) and random
// bytes everywhere else, so it passes the responder's first check and would cost it a DH
// (DH(S_priv, E_pub) comes before the static key fails to decrypt) unless it is under load
// and asks for a cookie instead.
//
// Run as a child process, usually inside a network namespace:
//
//   node flood.js '{"target":"192.168.241.1:51820","publicKey":"<base64>","seconds":5}'
//
// It sends with sendmmsg (src/sys MsgBatch) as fast as it can, or at `rate` messages per
// second, from the address routing picks or round-robin from `sources` (addresses on this
// namespace's interfaces: each datagram names its source with IP_PKTINFO), and counts what
// comes back: handshake responses (type 2), cookie replies (type 3; some of them decrypted
// with the key a real initiator would use, to prove they are genuine), anything else. Prints
// one FloodReport as JSON on stdout.

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { xaeadOpen } from '../../src/crypto/aead.js';
import { mac } from '../../src/crypto/blake2s.js';
import { cookieKey, mac1Key } from '../../src/engine/core/cookie.js';
import {
  COOKIE_ENCRYPTED,
  COOKIE_NONCE,
  COOKIE_NONCE_LEN,
  COOKIE_RECEIVER,
  COOKIE_REPLY_SIZE,
  INIT_MAC1,
  INIT_SENDER,
  INITIATION_SIZE,
  MAC_LEN,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
} from '../../src/engine/core/messages.js';
import { inetNtop, inetPton4, inetPton6 } from '../../src/model/inet.js';
import { POLLIN, PollSet } from '../../src/sys/native.js';
import { type LocalAddr, MsgBatch, UdpSocket } from '../../src/sys/udp.js';
import { pathAddr } from './path-addr.js';

export interface FloodSpec {
  /** `host:port` or `[v6]:port` of the responder. */
  target: string;
  /** The responder's public key (base64). */
  publicKey: string;
  seconds: number;
  /** Messages per second; 0 or absent: as fast as the socket takes them. */
  rate?: number;
  /** Local addresses to send from, round-robin (default: the one routing picks). */
  sources?: string[];
  /** Distinct messages precomputed (default 4096); each has its own sender index. */
  messages?: number;
  /** Datagrams per sendmmsg (default 64). */
  batch?: number;
  /** How long to keep counting replies after the last send (default 500 ms). */
  drainMs?: number;
}

export interface FloodReport {
  sent: number;
  /** sendmmsg calls that took nothing (socket buffer full), retried. */
  blocked: number;
  elapsedMs: number;
  sentPerSec: number;
  responses: number;
  cookies: number;
  /** Cookie replies decrypted with HASH(LABEL_COOKIE ‖ Spub) and our mac1 (a sample of them). */
  cookiesVerified: number;
  /** Sampled cookie replies that did not decrypt (must be 0). */
  cookiesInvalid: number;
  other: number;
  cookiesPerSec: number;
  /** Cookie replies per source address they came back to (text). */
  cookiesTo: Record<string, number>;
}

/** Verify one in this many cookie replies (XChaCha20 in JS costs more than receiving). */
const VERIFY_EVERY = 16;
const RECV_BATCH = 64;
const SLOT = 192;

/** `count` initiations with a valid mac1 for `publicKey`, random elsewhere, distinct sender indices. */
export function floodMessages(publicKey: Uint8Array, count: number): Uint8Array[] {
  const key = mac1Key(publicKey);
  const out: Uint8Array[] = [];
  const base = randomBytes(4).readUInt32LE(0);
  for (let i = 0; i < count; i++) {
    const m = new Uint8Array(randomBytes(INITIATION_SIZE));
    m.set([MESSAGE_INITIATION, 0, 0, 0], 0);
    new DataView(m.buffer).setUint32(INIT_SENDER, (base + i) >>> 0, true);
    m.set(mac(key, m.subarray(0, INIT_MAC1)), INIT_MAC1);
    m.fill(0, INIT_MAC1 + MAC_LEN); // no mac2: we hold no cookie
    out.push(m);
  }
  return out;
}

function parseSource(s: string): LocalAddr {
  const v4 = inetPton4(s);
  const address = v4 ?? inetPton6(s);
  if (!address) throw new Error(`bad source address ${s}`);
  return { family: v4 ? 4 : 6, address, ifindex: 0 };
}

export function runFlood(spec: FloodSpec): FloodReport {
  const pub = new Uint8Array(Buffer.from(spec.publicKey, 'base64'));
  if (pub.length !== 32) throw new Error('publicKey must be 32 bytes of base64');
  const to = pathAddr(spec.target);
  const sources = (spec.sources ?? []).map(parseSource);
  const msgs = floodMessages(pub, spec.messages ?? 4096);
  const mac1BySender = new Map<number, Uint8Array>();
  for (const m of msgs)
    mac1BySender.set(
      new DataView(m.buffer).getUint32(INIT_SENDER, true),
      m.slice(INIT_MAC1, INIT_MAC1 + MAC_LEN),
    );
  const ckey = cookieKey(pub);
  const batchSize = spec.batch ?? 64;
  const sock = UdpSocket.open({ port: 0, family: to.family, bufferBytes: 4 << 20 });
  const tx = new MsgBatch(batchSize, SLOT, sock.family);
  const rx = new MsgBatch(RECV_BATCH, SLOT, sock.family);
  const poll = new PollSet([{ fd: sock.fd, events: POLLIN }]);
  // Slot i carries message k from source k % sources.length: re-prepared when that changes.
  const slotSource = new Int32Array(batchSize).fill(-1);
  const useSlot = (i: number, k: number) => {
    const src = sources.length > 0 ? k % sources.length : 0;
    if (slotSource[i] === src) return;
    tx.prepare(i, to, INITIATION_SIZE, sources[src]);
    slotSource[i] = src;
  };

  const r: FloodReport = {
    sent: 0,
    blocked: 0,
    elapsedMs: 0,
    sentPerSec: 0,
    responses: 0,
    cookies: 0,
    cookiesVerified: 0,
    cookiesInvalid: 0,
    other: 0,
    cookiesPerSec: 0,
    cookiesTo: {},
  };
  const receive = (): number => {
    const n = rx.recv(sock.fd);
    if (n <= 0) return 0;
    const b = rx.bytes;
    for (let i = 0; i < n; i++) {
      const off = rx.slotOffset(i);
      const len = rx.length(i);
      const type = len >= 4 ? b[off] : -1;
      if (type === MESSAGE_RESPONSE) r.responses++;
      else if (type === MESSAGE_COOKIE_REPLY && len === COOKIE_REPLY_SIZE) {
        r.cookies++;
        const dest = rx.destination(i);
        const at = dest ? inetNtop(dest.address) : '?';
        r.cookiesTo[at] = (r.cookiesTo[at] ?? 0) + 1;
        if (r.cookies % VERIFY_EVERY === 1) {
          const msg = b.subarray(off, off + len);
          const sender = rx.mem.view.getUint32(off + COOKIE_RECEIVER, true);
          const m1 = mac1BySender.get(sender);
          const nonce = msg.subarray(COOKIE_NONCE, COOKIE_NONCE + COOKIE_NONCE_LEN);
          const ok = m1 && xaeadOpen(ckey, nonce, msg.subarray(COOKIE_ENCRYPTED), m1);
          if (ok) r.cookiesVerified++;
          else r.cookiesInvalid++;
        }
      } else r.other++;
    }
    return n;
  };

  const start = performance.now();
  const end = start + spec.seconds * 1000;
  let next = 0; // the next precomputed message
  const bytes = tx.bytes;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    let n = batchSize;
    if (spec.rate) {
      n = Math.min(batchSize, Math.floor(((now - start) / 1000) * spec.rate) - r.sent);
      if (n <= 0) {
        if (receive() === 0) poll.wait(1);
        continue;
      }
    }
    for (let i = 0; i < n; i++) {
      useSlot(i, r.sent + i);
      bytes.set(msgs[next]!, tx.slotOffset(i));
      next = next + 1 === msgs.length ? 0 : next + 1;
    }
    let done = 0;
    while (done < n) {
      const k = tx.send(sock.fd, done, n - done);
      if (k > 0) done += k;
      else {
        r.blocked++;
        receive();
        if (performance.now() >= end) break;
      }
    }
    r.sent += done;
    while (receive() === RECV_BATCH);
  }
  r.elapsedMs = performance.now() - start;
  const drainUntil = performance.now() + (spec.drainMs ?? 500);
  while (performance.now() < drainUntil) if (receive() === 0) poll.wait(20);
  r.sentPerSec = Math.round(r.sent / (r.elapsedMs / 1000));
  r.cookiesPerSec = Math.round(r.cookies / (r.elapsedMs / 1000));
  poll.free();
  tx.free();
  rx.free();
  sock.close();
  return r;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as FloodSpec;
  process.stdout.write(`${JSON.stringify(runFlood(spec))}\n`);
}
