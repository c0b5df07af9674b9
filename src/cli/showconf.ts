// wgm showconf <interface>: wg's showconf.c (showconf_main). The running configuration in
// `wg setconf` form, byte for byte as wg prints it: exactly one Endpoint line per peer (the
// active one), because wg-quick's `save` and scripts rebuild files from this output.

import { getDevice } from '../backend/backend.js';
import { serializeConfig } from '../config/serialize.js';
import { isWgError } from '../model/errors.js';
import type { Device } from '../model/index.js';
import { wgEndpoint } from '../model/index.js';
import type { Ctx } from './context.js';

/**
 * wg's showconf text for a device read from a backend: the config serializer, given each peer's
 * active endpoint only (a backend holding several candidates still shows one, as wg would).
 */
export function showconfText(d: Device): string {
  return serializeConfig({
    ...d,
    peers: d.peers.map((p) => {
      const ep = wgEndpoint(p);
      return { ...p, endpoints: ep ? [{ addr: ep }] : [] };
    }),
  });
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
