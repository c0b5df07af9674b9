// wgm save <CONFIG_FILE|INTERFACE>: wg-quick's `save` (cmd_save and save_config in
// wireguard-tools src/wg-quick/linux.bash). The running state goes back into the config file,
// which keeps its comments, order and spelling (src/quick/save.ts, src/config/edit.ts).
//
// Contract: wg-quick's name and path rules and messages (`wgm: ...` where wg-quick says
// `wg-quick: ...`), its one trace line `[#] wg showconf IF` on stderr, exit 0 on success and 1
// on any error, with the file then left as it was. Like `strip`, wgm does not re-run itself
// through sudo: run it as root (the UAPI socket and the config are root's).

import { parseQuickConfig } from '../config/quick.js';
import { isWgError } from '../model/errors.js';
import { readQuickFile, resolveQuickTarget } from '../quick/paths.js';
import { saveConfig } from '../quick/save.js';
import type { Ctx } from './context.js';
import { quickUsage } from './strip.js';

export async function run(args: string[], ctx: Ctx): Promise<number> {
  if (args.length !== 1) {
    ctx.err(quickUsage(ctx.prog));
    return 1;
  }
  try {
    const target = resolveQuickTarget(args[0]!);
    if (target.warning) ctx.err(`${target.warning}\n`);
    // parse_options runs first: a SaveConfig that is neither true nor false stops here.
    parseQuickConfig(readQuickFile(target.path).bytes);
    await saveConfig({
      iface: target.iface,
      path: target.path,
      trace: (command) => ctx.err(`[#] ${command}\n`),
    });
    return 0;
  } catch (e) {
    if (!isWgError(e)) throw e;
    ctx.err(`${ctx.prog}: ${e.message}\n`);
    return e.exitCode;
  }
}
