// What the core asks its owner to do. Every entry point returns a list of these, in order.

import type { Key } from '../../model/index.js';
import type { PathAddr } from './addr.js';

/**
 * One transport keypair, as a data plane needs it to seal and open packets: the one shape the
 * core (keypair.ts implements it), the engine and the data plane share. The core hands over
 * its own object, not a copy: the keys are read once, when the data plane installs the
 * keypair, and wiped by the core when it drops the keypair.
 */
export interface TransportKeypair {
  /** Our index: transport messages to us carry it as `receiver`. */
  readonly localIndex: number;
  /** The peer's index, written as `receiver` into messages we send. */
  readonly remoteIndex: number;
  readonly sendKey: Uint8Array;
  readonly recvKey: Uint8Array;
  /** Time (ms, the owner's monotonic clock) of creation; unusable from created + REJECT_AFTER_TIME on. */
  readonly created: number;
  /**
   * The keypair's send counter, shared: reserve a counter with
   * `Number(Atomics.add(sendCounterCell, 0, 1n))` and use it only if it is below 2^53
   * (COUNTER_LIMIT). Whoever seals with the keypair, in whichever thread, reserves from it.
   */
  readonly sendCounterCell: BigInt64Array;
}

/** A peer's keypairs: `next` is the responder's, unconfirmed until a packet arrives on it. */
export interface SessionKeypairs {
  current?: TransportKeypair;
  previous?: TransportKeypair;
  next?: TransportKeypair;
}

export type LogLevel = 'error' | 'verbose';

export type Action =
  /** Send one UDP datagram. `peer` is unset for cookie replies (no peer is known then). */
  | { type: 'send'; to: PathAddr; bytes: Uint8Array; peer?: Key }
  /**
   * Seal `packets` (IP packets; an empty one is a keepalive) with the peer's sending keypair
   * and send them to its endpoint. The data plane reports what went out with `transportSent`.
   */
  | { type: 'sendData'; peer: Key; packets: Uint8Array[] }
  /** Call `tick` at this core time (ms) at the latest; replaces any earlier request. */
  | { type: 'wakeAt'; at: number }
  /** A peer's keypairs changed (new session, confirmation, expiry, removal). */
  | { type: 'keypairChanged'; peer: Key; keypairs: SessionKeypairs }
  /**
   * A peer's active endpoint changed (configuration, roaming, a response from elsewhere, a
   * retry); undefined when its candidates were emptied.
   */
  | { type: 'endpointChanged'; peer: Key; endpoint: PathAddr | undefined }
  /**
   * Endpoint selection moved a peer's traffic to another path (an 'endpointChanged' with the
   * new endpoint comes with it): from where (none before the first), to where, and why.
   */
  | { type: 'pathSwitched'; peer: Key; from: PathAddr | undefined; to: PathAddr; reason: string }
  /**
   * While a peer's active path is in doubt, endpoint selection asks for each transport packet to
   * be sent to `to` as well (the same datagram: same keypair, same counter) until core time
   * `until`; `to` undefined: stop now. At most one mirror per peer; a new one replaces it.
   */
  | { type: 'mirror'; peer: Key; to: PathAddr | undefined; until: number }
  | { type: 'log'; level: LogLevel; msg: string };
