// A device as `wg showconf` prints it (wireguard-tools src/showconf.c), byte for byte, except
// that a peer with several endpoints gets one `Endpoint = ` line per endpoint, in order. The
// address formatters are glibc's (inet_ntop, getnameinfo NI_NUMERICHOST), from model/inet.ts,
// shared with `show`.

import { keyToBase64 } from '../crypto/keys.js';
import { type Device, type Endpoint, isZeroKey, KEY_LEN } from '../model/index.js';
import { formatAllowedIP, formatSockAddr } from '../model/inet.js';

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
