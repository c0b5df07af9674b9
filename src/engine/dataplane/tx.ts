// The transmit loop of a worker: TUN queue → allowed-IPs route → seal → sendmmsg.
//
// Per batch: read up to `batch` packets from the worker's TUN queue into the slots of a
// MsgBatch (each packet lands 16 bytes into its slot, leaving room for the header), route each
// by destination, take a counter from the keypair's shared counter, pad (whitepaper 5.4.6),
// seal in place, and hand the whole batch to one sendmmsg. Packets for a peer without a usable
// keypair go to the main thread ('needKey'), whose core stages them and starts a handshake.
//
// Each datagram leaves from its peer's sticky source address when there is one (source.ts,
// cached as ancillary data per peer). When the kernel refuses a source (the address was
// removed), the record is cleared and the datagram goes again without one, so traffic falls
// over to whatever address routing picks now; the peer then roams to it.
//
// With TUN offloads (offload.ts) each read is a virtio header and a packet of up to 64 KiB,
// split into segments here (tun-read.ts) before the same route/seal steps; with UDP_SEGMENT,
// consecutive equal-sized datagrams to one peer leave as one message (sys/gso-batch.ts), and a
// socket whose egress refuses it (EIO) sends one datagram at a time from then on, said once.
//
// While endpoint selection mirrors a peer (its active path is in doubt), each of its datagrams
// goes a second time, the same bytes, to the mirrored path, in a second sendmmsg after the
// batch (`prepareMirrors`); with no peer mirrored, a batch checks one counter of its own. A datagram
// the kernel refuses (EPERM from a firewall rule, ENETUNREACH...) is reported to the main thread,
// at most once per peer per REFUSED_REPORT_GAP_MS: selection counts it as a failed path.
//
// `makeTx` is the loop's body, one batch per `step()`; `runTx` runs it alone in a worker,
// blocking in poll(2) on the queue and the worker's eventfd (a wake makes it apply
// configuration or, when the stop flag is set, return), and both.ts runs it beside the
// receive loop's in one thread.

import { GsoBatch } from '../../sys/gso-batch.js';
import { POLY1305_TAG_LEN } from '../../sys/libcrypto.js';
import { EAGAIN, EINTR, POLLERR, POLLIN, POLLNVAL, POLLOUT, PollSet, Waker } from '../../sys/native.js';
import { sourceRejected } from '../../sys/pktinfo.js';
import { isLinkGone, tunReadBatch } from '../../sys/tun.js';
import { MsgBatch } from '../../sys/udp.js';
import { gsoSendRefused, udpGsoSupported } from '../../sys/udp-gso.js';
import { MAX_STAGED_PACKETS, PADDING_MULTIPLE, REKEY_TIMEOUT_MS } from '../core/constants.js';
import { DATA_HEADER_SIZE } from '../core/messages.js';
import { keypairExpired, reserveCounter } from '../core/transport-rules.js';
import { sealInPlace } from './cipher.js';
import { REFUSED_REPORT_GAP_MS, type WorkerEvent } from './protocol.js';
import { monotonicMs } from './shared.js';
import type { WorkerState } from './state.js';
import { END, IDLE, type LoopStep, MORE } from './step.js';
import { Tally } from './tally.js';
import { VnetReader } from './tun-read.js';

/** Room in each slot: header + the largest IP packet + padding + tag. */
export const SLOT_BYTES = DATA_HEADER_SIZE + 65535 + PADDING_MULTIPLE + POLY1305_TAG_LEN;
const MAX_PLAINTEXT = 65535;
/** Slot bytes around a packet: header before it, padding and tag after it. */
const SLOT_SLACK = DATA_HEADER_SIZE + PADDING_MULTIPLE + POLY1305_TAG_LEN;
/** How long a full socket buffer may hold up a batch before the rest of it is dropped. */
const SEND_STALL_MS = 100;
/** Slots per batch with TUN offloads: the segments of a 64 KiB super-packet at a 1280-byte MTU. */
const OFFLOAD_BATCH = 64;
/**
 * Refusals that say nothing about the path, not reported: the host short of memory, and a
 * datagram too large for the route (that packet's size, not the path, is the problem).
 */
const ENOMEM = 12;
const EMSGSIZE = 90;
const ENOBUFS = 105;

/** What became of datagram j of a batch: `errno` 0 when sent, else why the kernel refused it. */
type Done = (j: number, errno: number) => void;

export type Post = (e: WorkerEvent, transfer?: ArrayBuffer[]) => void;

/** The transmit loop alone in a worker: blocks in poll(2) on its TUN queue and its eventfd. */
export function runTx(st: WorkerState, post: Post): void {
  const { init, shared } = st;
  const idle = new PollSet([
    { fd: init.tunFd, events: POLLIN },
    { fd: init.wakeFd, events: POLLIN },
  ]);
  const wake = new Waker(init.wakeFd);
  const tx = makeTx(st, post, new Tally(shared, init.thread), idle, wake);
  try {
    for (;;) {
      if (shared.stopped) return;
      const r = tx.step();
      if (r === END) return;
      if (r === IDLE) {
        // The queue was empty (or a short batch found it so): block in poll rather than read
        // again, a system call less per wake-up and the thread asleep sooner after its send.
        st.sync();
        idle.wait(-1);
        if (idle.revents(1) & POLLIN) wake.drain();
        if (idle.revents(0) & POLLNVAL) return;
      }
    }
  } finally {
    idle.free();
    wake.free();
    tx.free();
  }
}

/**
 * The transmit loop's body: each `step()` reads one batch from the TUN queue and sends it.
 * `polled` is the thread's poll set, the TUN queue its entry 0: a read error after POLLERR
 * there is the link gone. `tally` is the thread's (one per thread, flushed by either loop),
 * and so is `wake`, the waker on its eventfd (drained while a send waits for room).
 */
export function makeTx(
  st: WorkerState,
  post: Post,
  tally: Tally,
  polled: PollSet,
  wake: Waker,
): { step(): LoopStep; free(): void } {
  const { init, shared } = st;
  const slots = init.vnetHdr ? Math.max(init.batch, OFFLOAD_BATCH) : init.batch;
  const batch = new MsgBatch(slots, SLOT_BYTES, init.udpFamily);
  const mem = batch.mem;
  const bytes = mem.bytes;
  const lens = new Int32Array(slots);
  const msgPeer = new Int32Array(slots);
  const msgLen = new Int32Array(slots);
  const msgData = new Uint8Array(slots);
  // Mirroring: the slot each datagram's bytes are in, and the copies' peers and lengths.
  const msgSlot = new Int32Array(slots);
  const copyPeer = new Int32Array(slots);
  const copyLen = new Int32Array(slots);
  // Per peer: when a refused send was last reported.
  const refusedAt = new Float64Array(shared.sizes.maxPeers).fill(Number.NEGATIVE_INFINITY);
  const reader = init.vnetHdr ? new VnetReader(init.tunFd, batch, lens) : undefined;
  let dropsSaid = 0; // the splitter's drops last reported
  const gso = init.udpOffload ? new GsoBatch(batch) : undefined;
  // Whether st.udpFd takes UDP_SEGMENT: probed per socket (a port change brings a new one).
  let gsoFd = -1;
  let gsoOn = false;
  const refusedFds = new Set<number>();
  let gsoSaid = false;
  let used = 0; // the most bytes any slot held: what to wipe at the end
  const full = new PollSet([
    { fd: st.udpFd, events: POLLOUT },
    { fd: init.wakeFd, events: POLLIN },
  ]);
  // Per peer: packets handed to the main thread in the current window, and when it began.
  const handed = new Int32Array(shared.sizes.maxPeers);
  const handedSince = new Float64Array(shared.sizes.maxPeers);
  const first = batch.slotAddr(0) + DATA_HEADER_SIZE;

  const handToCore = (peer: number, off: number, len: number, now: number) => {
    if (now - handedSince[peer]! >= REKEY_TIMEOUT_MS) {
      handedSince[peer] = now;
      handed[peer] = 0;
    }
    if (handed[peer]! >= MAX_STAGED_PACKETS) return;
    handed[peer]!++;
    const packet = bytes.slice(off, off + len);
    post({ t: 'needKey', peer, packet }, [packet.buffer]);
  };

  const step = (): LoopStep => {
    const n = reader
      ? reader.fill(batch, lens, slots)
      : tunReadBatch(init.tunFd, first, batch.slotSize, MAX_PLAINTEXT, slots, lens);
    if (reader && reader.dropped > dropsSaid && dropsSaid === 0) {
      post({ t: 'note', message: `Dropped a TUN packet the splitter refused: ${reader.lastDrop}` });
      dropsSaid = reader.dropped;
    }
    if (n === -EAGAIN || n === -EINTR || n === 0) return IDLE;
    if (n < 0) {
      if (isLinkGone(n) || polled.revents(0) & POLLERR) post({ t: 'linkGone', errno: -n });
      else post({ t: 'fatal', message: `TUN read failed: errno ${-n}` });
      return END;
    }
    // A read that failed otherwise than EAGAIN ended a plain batch too: poll reports that
    // at once (POLLERR for a deleted link), and the next read returns the error.
    const empty = reader ? reader.drained : n < slots;
    st.sync();
    full.setFd(0, st.udpFd);
    const now = monotonicMs();
    const mtu = st.mtu;
    const mirroring = st.mirrors > 0;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const len = lens[i]!;
      if (len + SLOT_SLACK > used) used = len + SLOT_SLACK;
      const off = batch.slotOffset(i) + DATA_HEADER_SIZE;
      const version = len > 0 ? bytes[off]! >> 4 : 0;
      let peer: number | undefined;
      if (version === 4 && len >= 20) peer = st.allowed.lookup(4, bytes, off + 16);
      else if (version === 6 && len >= 40) peer = st.allowed.lookup(6, bytes, off + 24);
      if (peer === undefined) continue; // no route: dropped, as wireguard-go does
      const slot = shared.sendKeypair(peer);
      const kp = slot >= 0 ? st.keypairs.get(slot) : undefined;
      if (!kp?.sealer || kp.peer !== peer || keypairExpired(kp.created, now)) {
        handToCore(peer, off, len, now);
        continue;
      }
      const namelen = st.endpointLen[peer]!;
      if (namelen === 0) continue; // no endpoint to send to
      const counter = reserveCounter(kp.counter);
      if (counter === undefined) {
        handToCore(peer, off, len, now);
        continue;
      }
      const total = sealInPlace(kp.sealer, mem, off, len, mtu, kp.remoteIndex, counter);
      bytes.set(st.endpointView[peer]!, batch.nameOffset(m));
      if (shared.sources.gen(peer) !== st.sourceGen[peer]) st.refreshSource(peer);
      const ctlLen = st.sourceLen[peer]!;
      if (ctlLen > 0) bytes.set(st.sourceView[peer]!, batch.controlOffset(m));
      batch.point(m, i);
      batch.prepareEncoded(m, namelen, total, ctlLen);
      if (mirroring) msgSlot[m] = i;
      msgPeer[m] = peer;
      msgLen[m] = total;
      msgData[m] = len > 0 ? 1 : 0;
      m++;
    }
    // A datagram the kernel refused still counts for the peer's timers (bytes only when
    // sent), as in wireguard-go's RoutineSequentialSender (device/send.go), which calls
    // timersAnyAuthenticatedPacketSent and timersDataSent whatever SendBuffers returns: with
    // the route to the endpoint gone, that is what starts the handshake that moves on.
    const done: Done = (j, errno) => {
      const peer = msgPeer[j]!;
      tally.sent(peer, errno === 0 ? msgLen[j]! : 0, msgData[j] === 1);
      if (errno === 0 || errno === ENOBUFS || errno === ENOMEM || errno === EMSGSIZE) return;
      if (now - refusedAt[peer]! < REFUSED_REPORT_GAP_MS) return;
      refusedAt[peer] = now;
      const addr = batch.source(j); // the destination it was sent to
      if (addr) post({ t: 'refused', peer, addr, errno });
    };
    if (gso && st.udpFd !== gsoFd) {
      gsoFd = st.udpFd;
      gsoOn = !refusedFds.has(gsoFd) && udpGsoSupported(gsoFd);
      if (!gsoOn && !gsoSaid && !refusedFds.has(gsoFd) && init.lane === 0) {
        gsoSaid = true; // the kernel lacks it: once per device is enough
        post({
          t: 'note',
          message: 'UDP segmentation offload unavailable (no UDP_SEGMENT): one datagram per send',
        });
      }
    }
    if (gso && gsoOn && gso.build(m, msgPeer, msgLen) < m) {
      const refused = sendRuns(gso, batch, st, full, wake, m, msgPeer, done);
      if (refused !== 0) {
        gsoOn = false;
        refusedFds.add(gsoFd);
        post({
          t: 'note',
          message: `UDP segmentation offload refused (errno ${refused}): sending one datagram at a time`,
        });
      }
    } else sendAll(batch, st, full, wake, 0, m, msgPeer, done);
    if (mirroring) {
      const k = prepareMirrors(batch, st, m, msgPeer, msgSlot, msgLen, copyPeer, copyLen, now);
      // Copies count as bytes sent; a refused copy says nothing about the active path.
      sendAll(batch, st, full, wake, 0, k, copyPeer, (j, errno) => {
        if (errno === 0) tally.sent(copyPeer[j]!, copyLen[j]!, false);
      });
    }
    if (tally.flush(now)) post({ t: 'traffic' });
    return empty ? IDLE : MORE;
  };
  return {
    step,
    free(): void {
      full.free();
      reader?.free();
      gso?.free();
      batch.free(Math.max(used, reader?.slotBytesUsed ?? 0));
    },
  };
}

/**
 * Sends the messages `gso.build` made of datagrams [0, m) (runs of one peer's datagrams, each
 * one UDP_SEGMENT send), waiting out a full buffer as sendAll does. From a message the kernel
 * refuses on, the rest of the batch goes one datagram at a time (sendAll: a refused source
 * address, a datagram without a route). Returns the errno when the refusal means the socket
 * must stop using UDP_SEGMENT (EIO, as wireguard-go's StdNetBind decides), else 0.
 */
function sendRuns(
  gso: GsoBatch,
  batch: MsgBatch,
  st: WorkerState,
  full: PollSet,
  wake: Waker,
  m: number,
  msgPeer: Int32Array,
  done: Done,
): number {
  const k = gso.count;
  let at = 0;
  let stallUntil = 0;
  while (at < k) {
    const r = gso.send(st.udpFd, at, k - at);
    if (r > 0) {
      for (let x = at; x < at + r; x++) {
        const j0 = gso.first[x]!;
        for (let j = j0; j < j0 + gso.segments[x]!; j++) done(j, 0);
      }
      at += r;
      continue;
    }
    if (r === -EAGAIN || r === -EINTR) {
      stallUntil = waitForRoom(st, full, wake, stallUntil);
      if (stallUntil === 0) return 0; // the rest is dropped
      continue;
    }
    sendAll(batch, st, full, wake, gso.first[at]!, m, msgPeer, done);
    return gso.segments[at]! > 1 && gsoSendRefused(r) ? -r : 0;
  }
  return 0;
}

/**
 * The socket's send buffer is full: waits for room until SEND_STALL_MS after the stall began
 * (`stallUntil`, 0 when it begins now). A wake-up is drained: configuration waits for the next
 * batch. Returns the stall's deadline, or 0 when it passed or the plane stops (drop the rest).
 */
function waitForRoom(st: WorkerState, full: PollSet, wake: Waker, stallUntil: number): number {
  const now = monotonicMs();
  const until = stallUntil === 0 ? now + SEND_STALL_MS : stallUntil;
  if (now >= until || st.shared.stopped) return 0;
  full.wait(until - now);
  if (full.revents(1) & POLLIN) wake.drain();
  return until;
}

/**
 * Sends datagrams [from, m), waiting out a full buffer for a while; `done(j, 0)` for each one
 * sent, `done(j, errno)` for each one the kernel refused.
 * A datagram whose source address the kernel refuses goes again without it (`dropSource`).
 */
function sendAll(
  batch: MsgBatch,
  st: WorkerState,
  full: PollSet,
  wake: Waker,
  from: number,
  m: number,
  msgPeer: Int32Array,
  done: Done,
): void {
  let at = from;
  let stallUntil = 0;
  while (at < m) {
    const r = batch.send(st.udpFd, at, m - at);
    if (r > 0) {
      for (let j = at; j < at + r; j++) done(j, 0);
      at += r;
      continue;
    }
    if (r === -EAGAIN || r === -EINTR) {
      stallUntil = waitForRoom(st, full, wake, stallUntil);
      if (stallUntil === 0) return; // the rest is dropped
      continue;
    }
    if (batch.controlLength(at) > 0 && sourceRejected(-r)) {
      dropSource(batch, st, msgPeer, at, m);
      continue;
    }
    done(at, -r);
    at++; // this datagram failed (no route to the endpoint, ...): drop it, keep the others
  }
}

/**
 * After a batch went out: makes datagrams [0, k) of the batch copies of those of its datagrams
 * [0, m) whose peer is mirrored (the same slot bytes, to the mirrored path, from the address
 * routing picks) and returns k. A mirror whose time ran out is dropped here, so mirroring stays
 * bounded even if the main thread's word to stop comes late.
 */
function prepareMirrors(
  batch: MsgBatch,
  st: WorkerState,
  m: number,
  msgPeer: Int32Array,
  msgSlot: Int32Array,
  msgLen: Int32Array,
  copyPeer: Int32Array,
  copyLen: Int32Array,
  now: number,
): number {
  const bytes = batch.bytes;
  let k = 0;
  for (let j = 0; j < m; j++) {
    const peer = msgPeer[j]!;
    const len = st.mirrorLen[peer]!;
    if (len === 0) continue;
    if (st.mirrorUntil[peer]! <= now) {
      st.clearMirror(peer);
      continue;
    }
    // Header k is free again (k <= j): datagram j's fields are read from the arrays.
    bytes.set(st.mirrorView[peer]!, batch.nameOffset(k));
    batch.point(k, msgSlot[j]!);
    batch.prepareEncoded(k, len, msgLen[j]!, 0);
    copyPeer[k] = peer;
    copyLen[k] = msgLen[j]!;
    k++;
  }
  return k;
}

/**
 * The source address of datagram `at`'s peer is gone: clears its record (unless it changed
 * meanwhile) and the source of that peer's datagrams [at, m), to be sent again without one.
 */
function dropSource(batch: MsgBatch, st: WorkerState, msgPeer: Int32Array, at: number, m: number): void {
  const peer = msgPeer[at]!;
  const gen = st.sourceGen[peer]!;
  st.shared.sources.store(peer, undefined, (_, now) => now === gen);
  st.refreshSource(peer);
  for (let j = at; j < m; j++) if (msgPeer[j] === peer) batch.clearSource(j);
}
