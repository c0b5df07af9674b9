// wgm addconf: Appends a configuration file to a WireGuard interface: only what the file mentions
// (wireguard-tools src/setconf.c, setconf_main).

import { runConf } from './conf-apply.js';
import type { Ctx } from './context.js';

export function run(args: string[], ctx: Ctx): Promise<number> {
  return runConf('addconf', args, ctx);
}
