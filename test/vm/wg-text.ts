// Test-side renderings of a Device in stock wg's formats (`wg showconf`, `wg show IF dump`;
// wireguard-tools src/showconf.c and src/show.c, dump_print), so that what wgm's kernel backend
// decodes can be compared byte for byte with what stock wg prints for the same kernel device.
// Deliberately independent of the CLI's own formatter: these tests check the backend, not the
// printer.

import { keyToBase64 } from '../../src/crypto/keys.js';
import type { AllowedIP, Device, Peer, SockAddr } from '../../src/model/index.js';
import { inetNtop4, inetNtop6 } from '../../src/model/inet.js';

export function allowedIPText(ip: AllowedIP): string {
  return `${ip.family === 4 ? inetNtop4(ip.address) : inetNtop6(ip.address)}/${ip.cidr}`;
}

export function endpointText(a: SockAddr): string {
  if (a.family === 4) return `${a.address}:${a.port}`;
  return `[${a.address}${a.scope !== undefined ? `%${a.scope}` : ''}]:${a.port}`;
}

function endpointOf(p: Peer): SockAddr | undefined {
  return p.endpoints[p.endpoints.length - 1]?.addr;
}

export function showconfText(d: Device): string {
  let out = '[Interface]\n';
  if (d.listenPort) out += `ListenPort = ${d.listenPort}\n`;
  if (d.fwmark) out += `FwMark = 0x${d.fwmark.toString(16)}\n`;
  if (d.privateKey) out += `PrivateKey = ${keyToBase64(d.privateKey)}\n`;
  out += '\n';
  d.peers.forEach((p, i) => {
    out += `[Peer]\nPublicKey = ${keyToBase64(p.publicKey!)}\n`;
    if (p.presharedKey?.some((b) => b !== 0)) out += `PresharedKey = ${keyToBase64(p.presharedKey)}\n`;
    if (p.allowedIPs.length > 0) out += `AllowedIPs = ${p.allowedIPs.map(allowedIPText).join(', ')}\n`;
    const ep = endpointOf(p);
    if (ep) out += `Endpoint = ${endpointText(ep)}\n`;
    if (p.persistentKeepalive) out += `PersistentKeepalive = ${p.persistentKeepalive}\n`;
    if (i < d.peers.length - 1) out += '\n';
  });
  return out;
}

export function dumpText(d: Device): string {
  const key = (k: Uint8Array | undefined) => (k?.some((b) => b !== 0) ? keyToBase64(k) : '(none)');
  let out = `${key(d.privateKey)}\t${key(d.publicKey)}\t${d.listenPort ?? 0}\t${d.fwmark ? `0x${d.fwmark.toString(16)}` : 'off'}\n`;
  for (const p of d.peers) {
    const ep = endpointOf(p);
    out += [
      key(p.publicKey),
      key(p.presharedKey),
      ep ? endpointText(ep) : '(none)',
      p.allowedIPs.length > 0 ? p.allowedIPs.map(allowedIPText).join(',') : '(none)',
      String(p.lastHandshake?.sec ?? 0n),
      String(p.rxBytes ?? 0n),
      String(p.txBytes ?? 0n),
      p.persistentKeepalive ? String(p.persistentKeepalive) : 'off',
    ].join('\t');
    out += '\n';
  }
  return out;
}
