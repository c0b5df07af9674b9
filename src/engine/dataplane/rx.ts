// The receive loop of a worker: recvmmsg → header/index → open → replay window → source
// allowed-IPs check → TUN write.
//
// Transport messages are looked up by receiver index among the keypairs this worker owns (the
// socket group steers each index to one worker, so the replay window needs no sharing), opened
// in place, checked against the replay window only after they authenticate (so a forgery never
// moves it), and, unless they are keepalives, written to the TUN queue when the inner packet's
// source belongs to the peer (whitepaper 4, cryptokey routing). Handshake messages (types 1-3)
// that pass the gate (gate.ts: a per-source budget, mac1, the queue's room) go to the main
// thread after the batch, packed in one message (handshake-batch.ts) with their source
// addresses and the local addresses they arrived at.
//
// Every authenticated packet also sets its peer's sticky source (source.ts): the remote address
// it came from and the local one it arrived at, which the transmit workers send from. Only a
// new remote address is reported to the main thread ('source', for roaming); a new local address
// alone just changes the shared record.
//
// `makeRx` is the loop's body, one batch per `step()`; `runRx` runs it alone in a worker,
// blocking in poll(2) on the socket and the worker's eventfd, and both.ts runs it beside the
// transmit loop's in one thread.

import { EAGAIN, EBADF, EINTR, POLLIN, POLLNVAL, PollSet, Waker } from '../../sys/native.js';
import { MsgBatch, SOCKADDR_SIZE } from '../../sys/udp.js';
import { SOL_UDP, setUdpGro, UDP_GRO } from '../../sys/udp-gso.js';
import {
  DATA_HEADER_SIZE,
  DATA_RECEIVER,
  KEEPALIVE_SIZE,
  MESSAGE_TRANSPORT,
  messageType,
} from '../core/messages.js';
import { ipPacketLength } from '../core/transport-rules.js';
import { openInPlace } from './cipher.js';
import { HandshakeBatchWriter } from './handshake-batch.js';
import { MAX_HANDSHAKES_IN_FLIGHT } from './protocol.js';
import { monotonicMs } from './shared.js';
import type { WorkerState } from './state.js';
import { END, IDLE, type LoopStep, MORE } from './step.js';
import { Tally } from './tally.js';
import { TunSink } from './tun-write.js';
import { type Post, SLOT_BYTES } from './tx.js';

/** Does the source sockaddr at `off` equal `known` (family, port and address)? */
/** CMSG_SPACE(sizeof(int)): the UDP_GRO control message. */
const UDP_GRO_SPACE = 24;

function sameSource(bytes: Uint8Array, off: number, known: Uint8Array | undefined): boolean {
  if (!known) return false;
  for (let i = 0; i < 4; i++) if (bytes[off + i] !== known[i]) return false;
  const v6 = bytes[off] === 10 && bytes[off + 1] === 0; // AF_INET6, little-endian
  const [from, to] = v6 ? [8, 24] : [4, 8];
  for (let i = from; i < to; i++) if (bytes[off + i] !== known[i]) return false;
  return true;
}

/** The receive loop alone in a worker: blocks in poll(2) on its socket and its eventfd. */
export function runRx(st: WorkerState, post: Post): void {
  const { init, shared } = st;
  const idle = new PollSet([
    { fd: st.udpFd, events: POLLIN },
    { fd: init.wakeFd, events: POLLIN },
  ]);
  const wake = new Waker(init.wakeFd);
  const rx = makeRx(st, post, new Tally(shared, init.thread));
  try {
    for (;;) {
      if (shared.stopped) return;
      const r = rx.step();
      if (r === END) return;
      if (r === IDLE) {
        // recvmmsg returned fewer datagrams than asked for, so it found the queue empty:
        // block in poll rather than ask again (a system call less per wake-up, and the thread
        // sleeps sooner after writing to the TUN, which woke the transmit worker on the same CPU).
        st.sync();
        idle.setFd(0, st.udpFd);
        idle.wait(-1);
        if (idle.revents(1) & POLLIN) wake.drain();
        if (idle.revents(0) & POLLNVAL) st.sync(); // the socket was swapped under us
      }
    }
  } finally {
    idle.free();
    wake.free();
    rx.free();
  }
}

/**
 * The receive loop's body: each `step()` takes one recvmmsg batch from the socket, writes
 * what it opens to the TUN and posts its handshake messages. `tally` is the thread's.
 */
export function makeRx(st: WorkerState, post: Post, tally: Tally): { step(): LoopStep; free(): void } {
  const { init, shared } = st;
  const batch = new MsgBatch(init.batch, SLOT_BYTES, init.udpFamily);
  const mem = batch.mem;
  const bytes = mem.bytes;
  const view = mem.view;
  const words = batch.words;
  const handshakes = new HandshakeBatchWriter(batch.count);
  let shed = 0; // handshake messages the gate refused since the last post
  let used = 0; // the most bytes any slot held: what to wipe at the end
  const sink = new TunSink(init.tunFd, mem, init.vnetHdr, init.tunUso);
  let now = 0;
  // Whether st.udpFd has UDP_GRO on (set per socket: a port change brings a new one).
  let groFd = -1;
  let groOn = false;
  let groSaid = false;

  const postHandshakes = (): void => {
    const hs = handshakes.take();
    if (hs) {
      post({ t: 'handshakes', ...hs, shed }, [hs.buf]);
      shed = 0;
    }
  };

  /** One datagram (or one segment of a UDP_GRO one) of slot i: len bytes at off. */
  const one = (i: number, off: number, len: number, ctl: number, ctlLen: number): void => {
    const type =
      len >= 4 && bytes[off] === MESSAGE_TRANSPORT
        ? MESSAGE_TRANSPORT
        : messageType(bytes.subarray(off, off + len));
    if (type === 0) return;
    if (type !== MESSAGE_TRANSPORT) {
      // The source's budget, mac1, room in the queue (its upper half for quiet sources:
      // gate.ts); sent on after the batch.
      const name = batch.nameOffset(i);
      const verdict = st.gate.check(bytes.subarray(off, off + len), type, bytes, name, now);
      if (verdict === 'drop') return;
      if (
        verdict === 'pass' &&
        (shared.takeHandshakeSlot(MAX_HANDSHAKES_IN_FLIGHT / 2) ||
          (st.gate.quiet && shared.takeHandshakeSlot(MAX_HANDSHAKES_IN_FLIGHT)))
      ) {
        // A UDP_GRO datagram can carry more messages than a batch has slots.
        if (handshakes.count === batch.count) postHandshakes();
        handshakes.add(bytes, off, len, name, ctl, ctlLen);
      } else shed++;
      return;
    }
    // Transport data: type(4) receiver(4) counter(8) sealed packet.
    if (len < KEEPALIVE_SIZE || view.getUint32(off, true) !== MESSAGE_TRANSPORT) return;
    const kp = st.byIndex.get(view.getUint32(off + DATA_RECEIVER, true));
    if (!kp) return;
    const plain = openInPlace(kp.opener!, kp.replay!, kp.created, mem, off, len, now);
    if (plain < 0) return;
    const peer = kp.peer;
    // Counted like wireguard-go: every authenticated message, before the inner checks.
    tally.received(peer, len, plain > 0);
    if (kp.promoteOnReceive) {
      // Key confirmation, as the core would do it: only while the main thread still sends with
      // the keypair it had when this one arrived as `next`. If it switched since (the core
      // made its own initiation's keypair current, which turns this one into `previous`), a
      // promotion here would send on a keypair the core no longer counts as current. The core
      // hears of the packet either way and decides ('confirmed').
      kp.promoteOnReceive = false;
      st.awaiting.delete(kp);
      shared.promoteSendKeypair(peer, kp.promoteOver, kp.slot);
      post({ t: 'confirmed', peer, slot: kp.slot });
    }
    const name = batch.nameOffset(i);
    const roamed = !sameSource(bytes, name, st.lastSource[peer]);
    if (
      roamed ||
      shared.sources.gen(peer) !== st.arrivalGen[peer] ||
      !st.sameArrival(peer, words, ctl >> 2, ctlLen)
    )
      st.learnSource(peer, bytes, name, batch.destination(i), ctl, ctlLen);
    if (roamed) {
      st.lastSource[peer] = bytes.slice(name, name + SOCKADDR_SIZE);
      const addr = batch.source(i);
      if (addr) post({ t: 'source', peer, addr });
    }
    if (plain === 0) return; // a keepalive
    const inner = off + DATA_HEADER_SIZE;
    const ipLen = ipPacketLength(bytes, inner, plain);
    if (ipLen === 0) return;
    const srcPeer =
      bytes[inner]! >> 4 === 4
        ? st.allowed.lookup(4, bytes, inner + 12)
        : st.allowed.lookup(6, bytes, inner + 8);
    if (srcPeer !== peer) return; // not from an address this peer may use
    sink.add(inner, ipLen);
  };

  const step = (): LoopStep => {
    if (init.udpOffload && st.udpFd !== groFd) {
      groFd = st.udpFd;
      groOn = setUdpGro(groFd, true);
      if (!groOn && !groSaid && init.lane === 0) {
        groSaid = true;
        post({ t: 'note', message: 'UDP receive offload unavailable (no UDP_GRO): one datagram per read' });
      }
    }
    const n = batch.recv(st.udpFd);
    if (n === -EAGAIN || n === -EINTR || n === 0) return IDLE;
    if (n === -EBADF) {
      post({ t: 'fatal', message: 'UDP socket closed under the receive loop' });
      return END;
    }
    if (n < 0) return MORE; // a pending socket error (e.g. ICMP); the next call reads data
    const empty = n < batch.count;
    st.sync();
    now = monotonicMs();
    for (let i = 0; i < n; i++) {
      if (batch.truncated(i)) continue;
      const len = batch.length(i);
      if (len > used) used = len;
      const off = batch.slotOffset(i);
      let ctl = batch.controlOffset(i);
      let ctlLen = batch.controlLength(i);
      // UDP_GRO: several datagrams of one sender, each `seg` bytes (the last may be
      // shorter); the kernel puts its control message before the arrival address.
      let seg = 0;
      if (groOn && ctlLen >= UDP_GRO_SPACE && view.getInt32(ctl + 8, true) === SOL_UDP) {
        if (view.getInt32(ctl + 12, true) === UDP_GRO) seg = view.getUint16(ctl + 16, true);
        ctl += UDP_GRO_SPACE;
        ctlLen -= UDP_GRO_SPACE;
      }
      if (seg === 0 || seg >= len) one(i, off, len, ctl, ctlLen);
      else for (let at = 0; at < len; at += seg) one(i, off + at, Math.min(seg, len - at), ctl, ctlLen);
    }
    // The tally before the last TUN writes, the messages to the main thread after them: the
    // rest of the stack waits for the writes (an echo reply leaves through the transmit
    // worker at once, maybe on this CPU), and a postMessage costs tens of microseconds.
    const tell = tally.flush(now);
    sink.flush();
    if (sink.gone !== 0) {
      post({ t: 'linkGone', errno: -sink.gone });
      return END;
    }
    if (tell) post({ t: 'traffic' });
    postHandshakes();
    return empty ? IDLE : MORE;
  };
  return {
    step,
    free(): void {
      sink.free();
      batch.free(used);
    },
  };
}
