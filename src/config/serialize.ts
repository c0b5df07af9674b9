// A device as `wg showconf` prints it (wg-compat 1.6), byte for byte, except that a peer with
// several endpoints gets one `Endpoint = ` line per endpoint, in order. The address formatters
// are glibc's (inet_ntop, getnameinfo NI_NUMERICHOST) and are shared with `show`.

import { keyToBase64 } from '../crypto/keys.js';
import {
  type AllowedIP,
  type Device,
  type Endpoint,
  isZeroKey,
  KEY_LEN,
  type SockAddr,
} from '../model/index.js';
import { inetNtop, inetNtop4, inetNtop6, inetPton4, inetPton6 } from './inet.js';

/** `a.b.c.d/n` or glibc's IPv6 text `/n`. */
export function formatAllowedIP(ip: AllowedIP): string {
  return `${inetNtop(ip.address)}/${ip.cidr}`;
}

/** The host part as getnameinfo(NI_NUMERICHOST) writes it, scope included. */
export function formatHost(addr: SockAddr): string {
  if (addr.family === 4) {
    const b = inetPton4(addr.address);
    return b ? inetNtop4(b) : addr.address;
  }
  const b = inetPton6(addr.address);
  const host = b ? inetNtop6(b) : addr.address;
  return addr.scope ? `${host}%${addr.scope}` : host;
}

/** `a.b.c.d:port`, or `[v6%scope]:port`: wg's endpoint text in show, showconf and UAPI. */
export function formatSockAddr(addr: SockAddr): string {
  const host = formatHost(addr);
  return host.includes(':') ? `[${host}]:${addr.port}` : `${host}:${addr.port}`;
}

/** An endpoint's text: the resolved address when there is one, else the spec as written. */
export function formatEndpoint(endpoint: Endpoint): string | undefined {
  if (endpoint.addr) return formatSockAddr(endpoint.addr);
  return endpoint.spec;
}

/** showconf's format; `[Interface]` always ends with a blank line, peers are separated by one. */
export function serializeConfig(device: Device): string {
  let out = '[Interface]\n';
  if (device.listenPort) out += `ListenPort = ${device.listenPort}\n`;
  if (device.fwmark) out += `FwMark = 0x${(device.fwmark >>> 0).toString(16)}\n`;
  if (device.privateKey) out += `PrivateKey = ${keyToBase64(device.privateKey)}\n`;
  out += '\n';
  device.peers.forEach((peer, i) => {
    out += `[Peer]\nPublicKey = ${keyToBase64(peer.publicKey ?? new Uint8Array(KEY_LEN))}\n`;
    if (peer.presharedKey && !isZeroKey(peer.presharedKey)) {
      out += `PresharedKey = ${keyToBase64(peer.presharedKey)}\n`;
    }
    if (peer.allowedIPs.length > 0)
      out += `AllowedIPs = ${peer.allowedIPs.map(formatAllowedIP).join(', ')}\n`;
    for (const endpoint of peer.endpoints) {
      const text = formatEndpoint(endpoint);
      if (text !== undefined) out += `Endpoint = ${text}\n`;
    }
    if (peer.persistentKeepalive) out += `PersistentKeepalive = ${peer.persistentKeepalive}\n`;
    if (i < device.peers.length - 1) out += '\n';
  });
  return out;
}
