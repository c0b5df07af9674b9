// wgm syncconf: Synchronizes a WireGuard interface with a configuration file, keeping the sessions
// of peers present in both (wireguard-tools src/setconf.c, setconf_main and sync_conf).

import { runConf } from './conf-apply.js';
import type { Ctx } from './context.js';

export function run(args: string[], ctx: Ctx): Promise<number> {
  return runConf('syncconf', args, ctx);
}
