// wgm down <CONFIG_FILE|INTERFACE>: wg-quick's `down`, undoing what `wgm up` recorded (src/quick/down.ts).

import { down } from '../quick/down.js';
import { saveConfig } from '../quick/save.js';
import type { Ctx } from './context.js';
import { quickDeps, runQuick } from './quick-verbs.js';

export function run(args: string[], ctx: Ctx): Promise<number> {
  // SaveConfig: the running state goes back into the file before anything is undone, with
  // save's one trace line (`[#] wg showconf IF`) in down's trace.
  return runQuick(args, ctx, (arg) =>
    down(
      arg,
      { err: ctx.err, env: ctx.env },
      {
        report: quickDeps(ctx).report,
        saveConfig: (iface, path, runner) => saveConfig({ iface, path, trace: (c) => runner.trace(c) }),
      },
    ),
  );
}
