// wgm showconf <interface>: wg-compat 1.6. The running configuration in `wg setconf` form,
// byte for byte as wg prints it: exactly one Endpoint line per peer (the active one), because
// wg-quick's `save` and scripts rebuild files from this output.

import { getDevice } from '../backend/backend.js';
import { keyToBase64 } from '../crypto/keys.js';
import { isWgError } from '../model/errors.js';
import type { Device } from '../model/index.js';
import { wgEndpoint } from '../uapi/get.js';
import { formatAllowedIP, formatSockAddr } from '../uapi/ip.js';
import type { Ctx } from './context.js';

/** wg's showconf text for a device read from a backend. */
export function showconfText(d: Device): string {
  let s = '[Interface]\n';
  if (d.listenPort) s += `ListenPort = ${d.listenPort}\n`;
  if (d.fwmark) s += `FwMark = 0x${(d.fwmark >>> 0).toString(16)}\n`;
  if (d.privateKey) s += `PrivateKey = ${keyToBase64(d.privateKey)}\n`;
  s += '\n';
  d.peers.forEach((p, i) => {
    s += `[Peer]\nPublicKey = ${p.publicKey ? keyToBase64(p.publicKey) : ''}\n`;
    if (p.presharedKey) s += `PresharedKey = ${keyToBase64(p.presharedKey)}\n`;
    if (p.allowedIPs.length > 0) s += `AllowedIPs = ${p.allowedIPs.map(formatAllowedIP).join(', ')}\n`;
    const ep = wgEndpoint(p);
    if (ep) s += `Endpoint = ${formatSockAddr(ep)}\n`;
    if (p.persistentKeepalive) s += `PersistentKeepalive = ${p.persistentKeepalive}\n`;
    if (i + 1 < d.peers.length) s += '\n';
  });
  return s;
}

export async function run(args: string[], ctx: Ctx): Promise<number> {
  if (args.length !== 1) {
    ctx.err(`Usage: ${ctx.prog} showconf <interface>\n`);
    return 1;
  }
  let device: Device;
  try {
    device = await getDevice(args[0]!);
  } catch (e) {
    if (!isWgError(e)) throw e;
    ctx.err(`Unable to access interface: ${e.message}\n`);
    return 1;
  }
  ctx.out(showconfText(device));
  return 0;
}
