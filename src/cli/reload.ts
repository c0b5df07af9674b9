// wgm reload <CONFIG_FILE|INTERFACE>: a changed config applied without dropping sessions
// (src/quick/reload.ts).

import { reload } from '../quick/reload.js';
import type { Ctx } from './context.js';
import { quickDeps, runQuick } from './quick-verbs.js';

export function run(args: string[], ctx: Ctx): Promise<number> {
  return runQuick(args, ctx, (arg) => reload(arg, { err: ctx.err, env: ctx.env }, quickDeps(ctx)));
}
