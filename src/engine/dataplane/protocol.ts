// The messages between the main thread and the data-plane workers.
//
// Main → worker (`Control`): configuration, sent only when it changes, on a MessagePort per
// worker. A worker never returns to its event loop (it blocks in poll), so it takes these with
// receiveMessageOnPort before each batch, and the main thread wakes it through its eventfd.
// What one handshake-answering slice posts to a worker comes as one array of them.
// Worker → main (`WorkerEvent`): what the core must decide on (handshake messages, packets
// for peers without a keypair, keypair confirmation, a new source address) and
// fatal conditions. Nothing here is sent per packet in steady state.

import type { RawAddr } from '../../sys/udp.js';
import type { Family } from '../core/allowedips.js';
import { HANDSHAKE_QUEUE_SIZE } from '../core/constants.js';

export interface PrefixMsg {
  family: Family;
  address: Uint8Array;
  cidr: number;
}

/** A keypair as every worker holds it (state.ts adds its cipher and, on receive, its replay filter). */
export interface KeypairFields {
  slot: number;
  peer: number;
  localIndex: number;
  remoteIndex: number;
  created: number;
  /** Make it the peer's sending keypair when the first packet arrives on it (responder). */
  promoteOnReceive: boolean;
  /**
   * The sending keypair that promotion may replace (NO_KEYPAIR: none): the promotion is a
   * compare-and-swap from this slot, so it fails once the main thread chose another keypair.
   */
  promoteOver: number;
  /** The keypair's send-counter cell (shared memory; nonces are taken with Atomics.add). */
  counter: BigInt64Array;
}

export type Control =
  /** A peer slot comes into use, or leaves it (dropping its keypairs, endpoint and prefixes). */
  | { t: 'peer'; peer: number; present: boolean }
  | { t: 'endpoint'; peer: number; addr: RawAddr | undefined }
  /**
   * Also send each of the peer's transport packets to `addr` until `until` (monotonicMs), the
   * same datagram as to its endpoint (endpoint selection's mirroring); undefined: stop.
   */
  | { t: 'mirror'; peer: number; addr: RawAddr | undefined; until: number }
  /** Replaces the peer's allowed IPs. */
  | { t: 'allowed'; peer: number; prefixes: PrefixMsg[] }
  /**
   * A keypair. Transmit workers get the sending key, the receive worker that owns
   * `localIndex` gets the receiving key, a worker of both directions both (one message).
   */
  | ({ t: 'keypair'; sendKey: Uint8Array | undefined; recvKey: Uint8Array | undefined } & KeypairFields)
  | { t: 'keypairGone'; slot: number }
  | { t: 'mtu'; mtu: number }
  /** The device's public key, for the receive workers' mac1 check (gate.ts); undefined: none. */
  | { t: 'handshakeKey'; publicKey: Uint8Array | undefined }
  /** Use this UDP socket from now on (after a port change). */
  | { t: 'socket'; fd: number };

export type WorkerEvent =
  /**
   * The handshake messages of one receive batch that passed the gate (gate.ts), packed
   * (handshake-batch.ts: each with its source and the local address it arrived at, which a
   * reply leaves from), and how many the gate shed since the last post (over a source's
   * budget, or the queue full): the engine is then under load.
   */
  | { t: 'handshakes'; buf: ArrayBuffer; used: number; count: number; shed: number }
  | { t: 'needKey'; peer: number; packet: Uint8Array }
  | { t: 'confirmed'; peer: number; slot: number }
  | { t: 'source'; peer: number; addr: RawAddr }
  /** Peers moved transport (shared.ts: their MOVED bits say which). */
  | { t: 'traffic' }
  | { t: 'linkGone'; errno: number }
  /**
   * The kernel refused a transport datagram of `peer` sent to `addr` (errno, e.g. EPERM from a
   * firewall rule): at most one per peer per REFUSED_REPORT_GAP_MS from each transmit worker.
   */
  | { t: 'refused'; peer: number; addr: RawAddr; errno: number }
  /** Something for the verbose log (an offload falling back), said once. */
  | { t: 'note'; message: string }
  | { t: 'fatal'; message: string };

/**
 * What a worker runs: the transmit loop (tx.ts), the receive loop (rx.ts), or both in one
 * thread (both.ts: one TUN queue and one socket, polled together).
 */
export type WorkerRole = 'tx' | 'rx' | 'both';

/** Does a worker of `role` send (TUN → UDP)? */
export function sends(role: WorkerRole): boolean {
  return role !== 'rx';
}

/** Does a worker of `role` receive (UDP → TUN)? */
export function receives(role: WorkerRole): boolean {
  return role !== 'tx';
}

/** What a worker is started with (worker_threads workerData). */
export interface WorkerInit {
  role: WorkerRole;
  /** Thread number in the shared rows (1-based; 0 is the main thread). */
  thread: number;
  /** For rx: which socket of the reuse-port group this is; for tx: its TUN queue; both: 0. */
  lane: number;
  lanes: number;
  shared: import('./shared.js').SharedBuffers;
  port: MessagePort;
  tunFd: number;
  udpFd: number;
  udpFamily: 4 | 6;
  wakeFd: number;
  mtu: number;
  batch: number;
  cipher: import('./cipher.js').CipherKind;
  /** The TUN carries virtio headers (offload.ts): split on read, merge on write. */
  vnetHdr: boolean;
  /** The TUN takes UDP super-packets (USO), so UDP datagrams are merged too. */
  tunUso: boolean;
  /** Try UDP_SEGMENT on send and UDP_GRO on receive. */
  udpOffload: boolean;
  /** rx: the random seed of the handshake gate's source table (gate.ts). */
  gateSeed: number;
}

type MessagePort = import('node:worker_threads').MessagePort;

/** The least time between two 'refused' reports for one peer from one worker. */
export const REFUSED_REPORT_GAP_MS = 100;

/** The receive lane that owns a keypair's local index (and so its replay window). */
export function laneOfIndex(localIndex: number, lanes: number): number {
  return (localIndex & 0xff) % lanes;
}

/**
 * At most this many handshake messages wait for the main thread; more are dropped (and count as
 * load: gate.ts): wireguard-go's handshake queue size. Kept short so that a full
 * queue is a few tens of milliseconds of work and UAPI requests still get their turn.
 */
export const MAX_HANDSHAKES_IN_FLIGHT = HANDSHAKE_QUEUE_SIZE;
