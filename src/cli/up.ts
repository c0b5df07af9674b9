// wgm up <CONFIG_FILE|INTERFACE>: wg-quick's `up`, on the backend the config needs (src/quick/up.ts).

import { up } from '../quick/up.js';
import type { Ctx } from './context.js';
import { quickDeps, runQuick } from './quick-verbs.js';

export function run(args: string[], ctx: Ctx): Promise<number> {
  return runQuick(args, ctx, (arg) => up(arg, { err: ctx.err, env: ctx.env }, quickDeps(ctx)));
}
