// The `get` operation: reading a reply (client, as wireguard-tools' ipc-uapi.h userspace_get_device)
// and writing one (server, as wireguard-go's IpcGetOperation), plus wgm's extension keys
// (man/wgm-engine.8), which stock wg ignores.
//
// Reading follows the C tool line by line: device keys count only before the first
// `public_key`, peer keys only after one, unknown keys are ignored, `errno=` is mandatory and
// unsigned, and every malformed value is EPROTO. The decoder is fed one line at a time, so a
// reply is never held whole.

import { keyToHex } from '../crypto/keys.js';
import { publicKeyOf } from '../crypto/x25519-native.js';
import {
  type Device,
  type EndpointState,
  KEY_LEN,
  newDevice,
  newPeer,
  type Peer,
  type SockAddr,
  wgEndpoint,
} from '../model/index.js';
import { formatAllowedIP, formatSockAddr } from '../model/inet.js';
import { EPROTO, encodeErrnoLine, ReplyReader, uapiError } from './errno.js';
import { hexKey, replyAllowedIP, replyEndpoint, wgNumber } from './values.js';

/** What wgm-engine says about itself in a get reply (nothing, for other daemons). */
export interface GetExtensions {
  /** `wgm_implementation=`, e.g. `wgm-engine/0.1.0`. */
  implementation?: string;
  /** `wgm_capabilities=` words, e.g. `multi_endpoint`. */
  capabilities: string[];
}

export interface GetReply {
  device: Device;
  ext: GetExtensions;
}

export const CAPABILITY_MULTI_ENDPOINT = 'multi_endpoint';
/** The daemon takes endpoints by name (`wgm_endpoint_name=`) and resolves them itself. */
export const CAPABILITY_ENDPOINT_NAMES = 'endpoint_names';

const U16 = 0xffffn;
const U32 = 0xffffffffn;
const I63 = (1n << 63n) - 1n;
const U64 = (1n << 64n) - 1n;
const I31 = 0x7fffffffn;
const STATES = new Set<EndpointState['state']>(['active', 'standby', 'probing', 'failed', 'unknown']);

interface PeerDraft {
  peer: Peer;
  endpoint?: SockAddr;
  candidates: EndpointState[];
}

export class GetReplyDecoder extends ReplyReader {
  private readonly device = newDevice();
  private readonly ext: GetExtensions = { capabilities: [] };
  private current: PeerDraft | undefined;
  private readonly drafts: PeerDraft[] = [];
  /** The C tool's `ret`: -EPROTO until an errno line says otherwise. */
  private status = -EPROTO;

  protected keyValue(key: string, value: string): void {
    const d = this.current;
    if (!d) {
      switch (key) {
        case 'private_key':
          this.device.privateKey = hexKey(value, EPROTO);
          return;
        case 'listen_port':
          this.device.listenPort = Number(wgNumber(value, U16));
          return;
        case 'fwmark':
          this.device.fwmark = Number(wgNumber(value, U32));
          return;
        case 'wgm_implementation':
          this.ext.implementation = value;
          return;
        case 'wgm_capabilities':
          this.ext.capabilities = value.split(',').filter((w) => w.length > 0);
          return;
      }
    }
    if (key === 'public_key') {
      // wg links the new peer in before validating its key, so a bad key still fails the reply.
      const draft: PeerDraft = {
        peer: newPeer({ lastHandshake: { sec: 0n, nsec: 0 }, rxBytes: 0n, txBytes: 0n }),
        candidates: [],
      };
      this.drafts.push(draft);
      this.current = draft;
      draft.peer.publicKey = hexKey(value, EPROTO);
      return;
    }
    if (key === 'errno') {
      this.status = -Number(wgNumber(value, I31));
      return;
    }
    if (!d) return;
    const p = d.peer;
    switch (key) {
      case 'preshared_key': {
        // As in wg, a non-zero key marks the peer as having one; a later zero key does not unmark it.
        const psk = hexKey(value, EPROTO);
        if (p.presharedKey || psk.some((b) => b !== 0)) p.presharedKey = psk;
        return;
      }
      case 'endpoint':
        d.endpoint = replyEndpoint(value);
        return;
      case 'persistent_keepalive_interval':
        p.persistentKeepalive = Number(wgNumber(value, U16));
        return;
      case 'allowed_ip':
        p.allowedIPs.push(replyAllowedIP(value));
        return;
      case 'last_handshake_time_sec':
        p.lastHandshake = { sec: wgNumber(value, I63), nsec: p.lastHandshake?.nsec ?? 0 };
        return;
      case 'last_handshake_time_nsec':
        p.lastHandshake = { sec: p.lastHandshake?.sec ?? 0n, nsec: Number(wgNumber(value, I63)) };
        return;
      case 'rx_bytes':
        p.rxBytes = wgNumber(value, U64);
        return;
      case 'tx_bytes':
        p.txBytes = wgNumber(value, U64);
        return;
      case 'protocol_version':
        // wg ignores it; keep it when it is a number.
        if (/^[0-9]{1,9}$/.test(value)) p.protocolVersion = Number(value);
        return;
      case 'wgm_endpoint':
        d.candidates.push({ addr: replyEndpoint(value), state: 'unknown' });
        return;
      case 'wgm_endpoint_policy':
        // A word this reader does not know is left out (the default then shows).
        if (value === 'latency' || value === 'preference') p.policy = value;
        return;
      case 'wgm_roaming':
        if (value === 'true' || value === 'false') p.roaming = value === 'true';
        return;
      case 'wgm_endpoint_state': {
        const c = d.candidates[d.candidates.length - 1];
        if (c)
          c.state = STATES.has(value as EndpointState['state'])
            ? (value as EndpointState['state'])
            : 'unknown';
        return;
      }
      case 'wgm_endpoint_rtt_us': {
        const c = d.candidates[d.candidates.length - 1];
        const us = wgNumber(value, U64);
        if (c) c.rttMs = Number(us) / 1000;
        return;
      }
      case 'wgm_endpoint_last_seen_sec': {
        const c = d.candidates[d.candidates.length - 1];
        const sec = wgNumber(value, I63);
        if (c) c.lastSeenSec = Number(sec);
        return;
      }
    }
  }

  /** The device, once the empty line came and the status is 0; throws the reported errno otherwise. */
  result(): GetReply {
    if (!this.complete) throw uapiError(EPROTO);
    if (this.status !== 0) throw uapiError(-this.status);
    const device = this.device;
    if (device.privateKey) device.publicKey = publicKeyOf(device.privateKey);
    for (const d of this.drafts) {
      const p = d.peer;
      if (d.candidates.length > 0) {
        p.endpoints = d.candidates.map((c) => ({ addr: c.addr }));
        p.endpointStates = d.candidates;
        if (d.endpoint) p.activeEndpoint = d.endpoint;
      } else if (d.endpoint) {
        p.endpoints = [{ addr: d.endpoint }];
      }
      device.peers.push(p);
    }
    return { device, ext: this.ext };
  }
}

/** Decodes a whole reply held in memory (tests, small tools). A missing final newline is EPROTO. */
export function decodeGetReply(text: string): GetReply {
  const dec = new GetReplyDecoder();
  let start = 0;
  while (!dec.complete) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) throw uapiError(EPROTO);
    dec.line(text.slice(start, nl));
    start = nl + 1;
  }
  return dec.result();
}

const ZERO_KEY = new Uint8Array(KEY_LEN);

/**
 * The lines of a get reply for this device, in wireguard-go's order, with the extension keys
 * when `ext` says what to advertise. A generator, so a server can stream a large device.
 */
export function* encodeGetReply(device: Device, ext?: GetExtensions): Generator<string> {
  if (device.privateKey?.some((b) => b !== 0)) yield `private_key=${keyToHex(device.privateKey)}\n`;
  if (device.listenPort) yield `listen_port=${device.listenPort}\n`;
  if (device.fwmark) yield `fwmark=${device.fwmark >>> 0}\n`;
  if (ext?.implementation !== undefined) yield `wgm_implementation=${ext.implementation}\n`;
  if (ext && ext.capabilities.length > 0) yield `wgm_capabilities=${ext.capabilities.join(',')}\n`;
  for (const p of device.peers) {
    if (!p.publicKey) continue;
    yield `public_key=${keyToHex(p.publicKey)}\n`;
    yield `preshared_key=${keyToHex(p.presharedKey ?? ZERO_KEY)}\n`;
    yield `protocol_version=${p.protocolVersion ?? 1}\n`;
    const active = wgEndpoint(p);
    if (active) yield `endpoint=${formatSockAddr(active)}\n`;
    if (ext && p.endpointStates) {
      for (const c of p.endpointStates) yield* encodeCandidate(c);
    }
    if (ext && p.policy !== undefined) yield `wgm_endpoint_policy=${p.policy}\n`;
    if (ext && p.roaming !== undefined) yield `wgm_roaming=${p.roaming}\n`;
    yield `last_handshake_time_sec=${p.lastHandshake?.sec ?? 0n}\n`;
    yield `last_handshake_time_nsec=${p.lastHandshake?.nsec ?? 0}\n`;
    yield `tx_bytes=${p.txBytes ?? 0n}\n`;
    yield `rx_bytes=${p.rxBytes ?? 0n}\n`;
    yield `persistent_keepalive_interval=${p.persistentKeepalive ?? 0}\n`;
    for (const ip of p.allowedIPs) yield `allowed_ip=${formatAllowedIP(ip)}\n`;
  }
  yield encodeErrnoLine(0);
  yield '\n';
}

function* encodeCandidate(c: EndpointState): Generator<string> {
  yield `wgm_endpoint=${formatSockAddr(c.addr)}\n`;
  yield `wgm_endpoint_state=${c.state}\n`;
  if (c.rttMs !== undefined) yield `wgm_endpoint_rtt_us=${Math.max(0, Math.round(c.rttMs * 1000))}\n`;
  if (c.lastSeenSec !== undefined)
    yield `wgm_endpoint_last_seen_sec=${Math.max(0, Math.trunc(c.lastSeenSec))}\n`;
}
