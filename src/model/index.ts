// The one typed model shared by the config parser, the serializer, the backends and the CLI.
//
// Like wireguard-tools' containers.h, a field that is `undefined` was not set: a set request
// sends only what is defined, and a device read back fills what the backend reports.
// This module is a leaf: it imports nothing of ours.

/** A WireGuard key: exactly 32 bytes. */
export type Key = Uint8Array;

export const KEY_LEN = 32;

/** A resolved socket address, as a backend holds it. */
export interface SockAddr {
  family: 4 | 6;
  /** Numeric host text: dotted quad for IPv4, RFC 5952-ish text (no brackets, no scope) for IPv6. */
  address: string;
  port: number;
  /** IPv6 scope: an interface name or a number (as wg prints it after `%`). */
  scope?: string;
}

/**
 * One candidate endpoint of a peer. `spec` is the text as written in a config file or on the
 * command line (whitespace already removed for config files); `addr` is what it resolved to.
 * A device read back from a backend has `addr` only. `A`, here and below, is the address type:
 * text (SockAddr) everywhere but inside wgm-engine, which keeps addresses binary.
 */
export interface Endpoint<A = SockAddr> {
  spec?: string;
  addr?: A;
  /**
   * wgm only: a name the backend resolves itself (UAPI `wgm_endpoint_name`, to a backend that
   * advertises `endpoint_names`). Set instead of `addr`; the port is already a number.
   */
  name?: { host: string; port: number };
}

/** State of one candidate endpoint, as reported by a backend that holds several (wgm-engine). */
export interface EndpointState<A = SockAddr> {
  addr: A;
  /** 'active' carries traffic now; the others are candidates. */
  state: 'active' | 'standby' | 'probing' | 'failed' | 'unknown';
  /** Smoothed round-trip time in milliseconds, when measured. */
  rttMs?: number;
  /** Unix seconds of the last authenticated packet from this address, 0 if none. */
  lastSeenSec?: number;
}

export type EndpointPolicy = 'latency' | 'preference';

export interface AllowedIP {
  family: 4 | 6;
  /** Network-order address bytes: 4 or 16. Host bits are kept as given (backends mask them). */
  address: Uint8Array;
  cidr: number;
  /** A removal (`-prefix`), as newer wg and wireguard-go accept. */
  remove?: boolean;
}

export interface Timespec {
  sec: bigint;
  nsec: number;
}

export interface Peer<A = SockAddr> {
  publicKey?: Key;
  /** All-zero means "no preshared key" on the wire; undefined means "not mentioned". */
  presharedKey?: Key;
  /**
   * Candidate endpoints in order. wg keeps only the last one; wgm keeps them all.
   * An empty list means "not mentioned" (wg has no way to clear an endpoint).
   */
  endpoints: Endpoint<A>[];
  /**
   * wgm only: the candidate list is emptied (`wgm_replace_endpoints=true` with no candidate
   * after it), so the peer has no endpoint until it is heard from.
   */
  clearEndpoints?: boolean;
  /** Seconds; 0 = off. */
  persistentKeepalive?: number;
  /**
   * wgm only: how the backend picks among the candidates: `latency` (the default: the fastest
   * live path, config order breaking near-ties) or `preference` (the most preferred live path).
   */
  policy?: EndpointPolicy;
  /** wgm only: whether the endpoint follows the peer's roaming (the default: true). */
  roaming?: boolean;
  allowedIPs: AllowedIP[];
  /** Every `[Peer]` section and every `allowed-ips` argument replaces the peer's list. */
  replaceAllowedIPs: boolean;
  remove: boolean;
  updateOnly: boolean;
  // What a backend reports when a device is read:
  lastHandshake?: Timespec;
  rxBytes?: bigint;
  txBytes?: bigint;
  protocolVersion?: number;
  /** Per-candidate state, from a backend that holds several endpoints. */
  endpointStates?: EndpointState<A>[];
  /**
   * The one endpoint the backend sends to now (UAPI `endpoint=`), when read from a backend that
   * also reports candidates: what `wg show` prints. Otherwise the last of `endpoints` is it.
   */
  activeEndpoint?: A;
}

export interface Device<A = SockAddr> {
  name?: string;
  ifindex?: number;
  privateKey?: Key;
  /** Reported by the kernel; derived from the private key for UAPI backends. */
  publicKey?: Key;
  listenPort?: number;
  /** 0 = off. */
  fwmark?: number;
  replacePeers: boolean;
  peers: Peer<A>[];
}

export function newPeer<A = SockAddr>(init: Partial<Peer<A>> = {}): Peer<A> {
  return {
    endpoints: [],
    allowedIPs: [],
    replaceAllowedIPs: false,
    remove: false,
    updateOnly: false,
    ...init,
  };
}

/**
 * The endpoint wg would show for this peer: the backend's active one when it reported
 * candidates, else the peer's (last) endpoint.
 */
export function wgEndpoint(peer: Peer): SockAddr | undefined {
  if (peer.endpointStates && peer.endpointStates.length > 0) return peer.activeEndpoint;
  return peer.activeEndpoint ?? peer.endpoints[peer.endpoints.length - 1]?.addr;
}

export function newDevice<A = SockAddr>(init: Partial<Device<A>> = {}): Device<A> {
  return { replacePeers: false, peers: [], ...init };
}

export function isZeroKey(key: Key | undefined): boolean {
  if (!key) return true;
  let acc = 0;
  for (const b of key) acc |= b;
  return acc === 0;
}

/** Constant-time equality for keys (and any equal-length secrets). */
export function keysEqual(a: Key, b: Key): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}
