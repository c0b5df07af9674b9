// What the core asks its owner to do. Every entry point returns a list of these, in order.

import type { Key, SockAddr } from '../../model/index.js';

/** One transport keypair, as a data plane needs it to seal and open packets. */
export interface KeypairInfo {
  /** Our index: transport messages to us carry it as `receiver`. */
  localIndex: number;
  /** The peer's index, written as `receiver` into messages we send. */
  remoteIndex: number;
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  /** Core time (ms) of creation; unusable from created + REJECT_AFTER_TIME on. */
  created: number;
  isInitiator: boolean;
  /**
   * The keypair's send counter, shared: reserve a counter with
   * `Number(Atomics.add(sendCounterCell, 0, 1n))` and use it only if it is below 2^53
   * (COUNTER_LIMIT). The core reserves from the same cell.
   */
  sendCounterCell: BigInt64Array;
}

export interface KeypairsInfo {
  current?: KeypairInfo;
  previous?: KeypairInfo;
  next?: KeypairInfo;
}

export type LogLevel = 'error' | 'verbose';

export type Action =
  /** Send one UDP datagram. `peer` is unset for cookie replies (no peer is known then). */
  | { type: 'send'; to: SockAddr; bytes: Uint8Array; peer?: Key }
  /** Write one decrypted IP packet to the TUN device. */
  | { type: 'writeTun'; bytes: Uint8Array; peer: Key }
  /** Call `tick` at this core time (ms) at the latest; replaces any earlier request. */
  | { type: 'wakeAt'; at: number }
  /** A peer's keypairs changed (new session, confirmation, expiry, removal). */
  | { type: 'keypairChanged'; peer: Key; keypairs: KeypairsInfo }
  /** A peer's active endpoint changed (roaming, a response from elsewhere, a retry). */
  | { type: 'endpointChanged'; peer: Key; endpoint: SockAddr }
  | { type: 'log'; level: LogLevel; msg: string };
