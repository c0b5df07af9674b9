// wgm addconf: Appends a configuration file to a WireGuard interface: only what the file mentions (wg-compat 1.8).

import { runConf } from './conf-apply.js';
import type { Ctx } from './context.js';

export function run(args: string[], ctx: Ctx): Promise<number> {
  return runConf('addconf', args, ctx);
}
