// wgm down <CONFIG_FILE|INTERFACE>: wg-quick's `down`, undoing what `wgm up` recorded (src/quick/down.ts).

import { down } from '../quick/down.js';
import type { Ctx } from './context.js';
import { quickDeps, runQuick } from './quick-verbs.js';

export function run(args: string[], ctx: Ctx): Promise<number> {
  // MERGE: SaveConfig. When src/quick/save.ts exports saveConfig, pass it here as `saveConfig`;
  // until then `down` of a SaveConfig = true config says that nothing was saved.
  return runQuick(args, ctx, (arg) =>
    down(arg, { err: ctx.err, env: ctx.env }, { report: quickDeps(ctx).report }),
  );
}
