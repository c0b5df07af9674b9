// The `set` operation: writing a request (client, as wireguard-tools' ipc-uapi.h
// userspace_set_device) and reading one (server, as wireguard-go's IpcSetOperation), plus wgm's
// endpoint-candidate keys (docs/uapi-extensions.md).
//
// Writing reproduces wg byte for byte for everything stock wg can express. Reading follows
// wireguard-go: the server applies each line as it comes, so the decoder hands out one operation
// per line and throws the errno wireguard-go would answer (EINVAL for bad keys and values,
// EPROTO for a line without `=`).

import { keyToBase64, keyToHex } from '../crypto/keys.js';
import { WgError } from '../model/errors.js';
import type { AllowedIP, Device, EndpointPolicy, Key, Peer, SockAddr } from '../model/index.js';
import { formatAllowedIP, formatSockAddr } from '../model/inet.js';
import { EINVAL, EPROTO, uapiError } from './errno.js';
import { goUint, hexKey, requestAllowedIP, requestEndpoint, requestEndpointName } from './values.js';

export interface EncodeSetOptions {
  /** The backend advertises `multi_endpoint`: several candidates go as `wgm_endpoint=` lines. */
  multiEndpoint: boolean;
  /**
   * The backend advertises `endpoint_names`: an endpoint given by name (`Endpoint.name`, no
   * address) goes as `wgm_endpoint_name=`, and the backend resolves it.
   */
  endpointNames?: boolean;
}

/** An endpoint as one line of the candidate list: `wgm_endpoint=` or `wgm_endpoint_name=`. */
function endpointLine(peer: Peer, i: number, opts: EncodeSetOptions): string {
  const ep = peer.endpoints[i];
  if (!ep?.addr && ep?.name && opts.endpointNames)
    return `wgm_endpoint_name=${ep.name.host}:${ep.name.port}\n`;
  return `wgm_endpoint=${formatSockAddr(endpointAddr(peer, i))}\n`;
}

/** The peer has an endpoint the backend is to resolve (it goes in the candidate-list form). */
function hasName(peer: Peer, opts: EncodeSetOptions): boolean {
  return opts.endpointNames === true && peer.endpoints.some((e) => !e.addr && e.name);
}

function endpointAddr(peer: Peer, i: number): SockAddr {
  const addr = peer.endpoints[i]?.addr;
  if (!addr) {
    throw new WgError('internal', 'an endpoint must be resolved before it is sent to a backend', {
      where: peer.publicKey ? { peer: keyToBase64(peer.publicKey) } : {},
    });
  }
  return addr;
}

/**
 * Throws what encodeSetRequest would throw part-way, before a single line is sent: a peer without
 * a public key, an unresolved endpoint, several endpoints for a backend that holds one.
 */
export function checkEncodable(device: Device, opts: EncodeSetOptions): void {
  for (const peer of device.peers) {
    if (!peer.publicKey)
      throw new WgError('internal', 'a peer without a public key cannot be sent to a backend');
    if (peer.remove) continue;
    for (let i = 0; i < peer.endpoints.length; i++)
      if (!(opts.endpointNames && peer.endpoints[i]!.name)) endpointAddr(peer, i);
    if ((peer.endpoints.length > 1 || hasName(peer, opts)) && !opts.multiEndpoint) {
      throw new WgError('capability', 'this backend holds one endpoint per peer', {
        where: { peer: keyToBase64(peer.publicKey) },
      });
    }
  }
}

/**
 * The lines of a set request (from `set=1` to the closing empty line), in the order wg writes
 * them. A peer with one endpoint gets wg's `endpoint=`; a peer with several needs a backend that
 * holds several (`wgm_replace_endpoints=true` then one `wgm_endpoint=` each) and is refused
 * otherwise: callers check capabilities first, this is the last guard.
 */
export function* encodeSetRequest(device: Device, opts: EncodeSetOptions): Generator<string> {
  checkEncodable(device, opts);
  yield 'set=1\n';
  if (device.privateKey) yield `private_key=${keyToHex(device.privateKey)}\n`;
  if (device.listenPort !== undefined) yield `listen_port=${device.listenPort}\n`;
  if (device.fwmark !== undefined) yield `fwmark=${device.fwmark >>> 0}\n`;
  if (device.replacePeers) yield 'replace_peers=true\n';
  for (const peer of device.peers) {
    if (!peer.publicKey)
      throw new WgError('internal', 'a peer without a public key cannot be sent to a backend');
    yield `public_key=${keyToHex(peer.publicKey)}\n`;
    if (peer.remove) {
      yield 'remove=true\n';
      continue;
    }
    if (peer.updateOnly) yield 'update_only=true\n';
    if (peer.presharedKey) yield `preshared_key=${keyToHex(peer.presharedKey)}\n`;
    if (peer.endpoints.length === 1 && !hasName(peer, opts)) {
      yield `endpoint=${formatSockAddr(endpointAddr(peer, 0))}\n`;
    } else if (peer.endpoints.length > 0) {
      if (!opts.multiEndpoint) {
        throw new WgError('capability', 'this backend holds one endpoint per peer', {
          where: { peer: keyToBase64(peer.publicKey) },
        });
      }
      // Names and addresses in one list, in their order: the order is the preference.
      yield 'wgm_replace_endpoints=true\n';
      for (let i = 0; i < peer.endpoints.length; i++) yield endpointLine(peer, i, opts);
    }
    // Selection knobs: only a backend that holds several endpoints knows them; another one
    // holds one endpoint, which leaves nothing to choose.
    if (opts.multiEndpoint && peer.policy !== undefined) yield `wgm_endpoint_policy=${peer.policy}\n`;
    if (opts.multiEndpoint && peer.roaming !== undefined) yield `wgm_roaming=${peer.roaming}\n`;
    if (peer.persistentKeepalive !== undefined)
      yield `persistent_keepalive_interval=${peer.persistentKeepalive}\n`;
    if (peer.replaceAllowedIPs) yield 'replace_allowed_ips=true\n';
    for (const ip of peer.allowedIPs) yield `allowed_ip=${ip.remove ? '-' : ''}${formatAllowedIP(ip)}\n`;
  }
  yield '\n';
}

/** One line of a set request, decoded. The server applies them in order, immediately. */
export type SetOp =
  | { key: 'private_key'; value: Key }
  | { key: 'listen_port'; value: number }
  | { key: 'fwmark'; value: number }
  | { key: 'replace_peers' }
  | { key: 'public_key'; value: Key }
  | { key: 'remove' }
  | { key: 'update_only' }
  | { key: 'preshared_key'; value: Key }
  | { key: 'endpoint'; value: SockAddr }
  | { key: 'persistent_keepalive_interval'; value: number }
  | { key: 'replace_allowed_ips' }
  | { key: 'allowed_ip'; value: AllowedIP }
  | { key: 'protocol_version'; value: 1 }
  | { key: 'wgm_replace_endpoints' }
  | { key: 'wgm_endpoint'; value: SockAddr }
  | { key: 'wgm_endpoint_name'; value: { host: string; port: number } }
  | { key: 'wgm_endpoint_policy'; value: EndpointPolicy }
  | { key: 'wgm_roaming'; value: boolean };

function mustBeTrue(value: string): void {
  if (value !== 'true') throw uapiError(EINVAL);
}

/**
 * Reads the lines after `set=1`. `line()` returns the operation, or `'end'` for the empty line;
 * it throws a WgError whose errno is what the server answers (`errno=-<errno>`). After a throw
 * the rest of the request is not read (wireguard-go leaves it unread too).
 */
export class SetRequestDecoder {
  private inPeer = false;

  line(text: string): SetOp | 'end' {
    if (text.length === 0) return 'end';
    const eq = text.indexOf('=');
    if (eq < 0) throw uapiError(EPROTO);
    const key = text.slice(0, eq);
    const value = text.slice(eq + 1);
    if (key === 'public_key') {
      this.inPeer = true;
      return { key, value: hexKey(value, EINVAL) };
    }
    if (!this.inPeer) {
      switch (key) {
        case 'private_key':
          return { key, value: hexKey(value, EINVAL) };
        case 'listen_port':
          return { key, value: goUint(value, 16) };
        case 'fwmark':
          return { key, value: goUint(value, 32) };
        case 'replace_peers':
          mustBeTrue(value);
          return { key };
        default:
          throw uapiError(EINVAL);
      }
    }
    switch (key) {
      case 'remove':
        mustBeTrue(value);
        return { key };
      case 'update_only':
        mustBeTrue(value);
        return { key };
      case 'preshared_key':
        return { key, value: hexKey(value, EINVAL) };
      case 'endpoint':
        return { key, value: requestEndpoint(value) };
      case 'persistent_keepalive_interval':
        return { key, value: goUint(value, 16) };
      case 'replace_allowed_ips':
        mustBeTrue(value);
        return { key };
      case 'allowed_ip':
        return { key, value: requestAllowedIP(value) };
      case 'protocol_version':
        if (value !== '1') throw uapiError(EINVAL);
        return { key, value: 1 };
      case 'wgm_replace_endpoints':
        mustBeTrue(value);
        return { key };
      case 'wgm_endpoint':
        return { key, value: requestEndpoint(value) };
      case 'wgm_endpoint_name':
        return { key, value: requestEndpointName(value) };
      case 'wgm_endpoint_policy':
        if (value !== 'latency' && value !== 'preference') throw uapiError(EINVAL);
        return { key, value };
      case 'wgm_roaming':
        if (value !== 'true' && value !== 'false') throw uapiError(EINVAL);
        return { key, value: value === 'true' };
      default:
        throw uapiError(EINVAL);
    }
  }
}

/**
 * Folds decoded operations into a Device change, the way wg's model would describe the same
 * request (for tests and for a server that applies a whole request at once). Order-sensitive
 * details (an allowed IP added before `replace_allowed_ips`) are flattened.
 */
export function decodeSetRequest(text: string): Device {
  const lines = text.split('\n');
  if (lines[0] !== 'set=1') throw uapiError(EPROTO);
  const dec = new SetRequestDecoder();
  const device: Device = { replacePeers: false, peers: [] };
  let peer: Peer | undefined;
  for (let i = 1; i < lines.length; i++) {
    const op = dec.line(lines[i]!);
    if (op === 'end') return device;
    switch (op.key) {
      case 'private_key':
        device.privateKey = op.value;
        break;
      case 'listen_port':
        device.listenPort = op.value;
        break;
      case 'fwmark':
        device.fwmark = op.value;
        break;
      case 'replace_peers':
        device.replacePeers = true;
        device.peers = [];
        break;
      case 'public_key':
        peer = {
          publicKey: op.value,
          endpoints: [],
          allowedIPs: [],
          replaceAllowedIPs: false,
          remove: false,
          updateOnly: false,
        };
        device.peers.push(peer);
        break;
      default:
        if (peer) applyPeerOp(peer, op);
    }
  }
  throw uapiError(EPROTO);
}

function applyPeerOp(peer: Peer, op: SetOp): void {
  switch (op.key) {
    case 'remove':
      peer.remove = true;
      break;
    case 'update_only':
      peer.updateOnly = true;
      break;
    case 'preshared_key':
      peer.presharedKey = op.value;
      break;
    case 'endpoint':
      peer.endpoints = [{ addr: op.value }];
      break;
    case 'wgm_replace_endpoints':
      peer.endpoints = [];
      break;
    case 'wgm_endpoint':
      peer.endpoints.push({ addr: op.value });
      break;
    case 'wgm_endpoint_name':
      peer.endpoints.push({ name: op.value });
      break;
    case 'wgm_endpoint_policy':
      peer.policy = op.value;
      break;
    case 'wgm_roaming':
      peer.roaming = op.value;
      break;
    case 'persistent_keepalive_interval':
      peer.persistentKeepalive = op.value;
      break;
    case 'replace_allowed_ips':
      peer.replaceAllowedIPs = true;
      peer.allowedIPs = [];
      break;
    case 'allowed_ip':
      peer.allowedIPs.push(op.value);
      break;
    case 'protocol_version':
      peer.protocolVersion = op.value;
      break;
  }
}
