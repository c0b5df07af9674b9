// What wgm up, down and reload share in cli/: argument count and usage (wg-quick's), the
// bridge from quick/ to the config applier (setconf/syncconf semantics, with the refusal of
// several endpoints on a backend that holds one), and error printing.

import { loadParsedConfig } from '../config/parse.js';
import { isWgError } from '../model/errors.js';
import type { QuickDeps } from '../quick/up.js';
import { applyConf, wipeSecrets } from './conf-apply.js';
import type { Ctx } from './context.js';
import { printError } from './errors.js';
import { quickUsage } from './strip.js';

export function quickDeps(ctx: Ctx): QuickDeps {
  return {
    applyConfig: async (verb, iface, text, file) => {
      const { device, peerLines } = await loadParsedConfig(text, {
        file,
        env: ctx.env,
        onWarning: (t) => ctx.err(`${t}\n`),
      });
      try {
        await applyConf(
          verb,
          iface,
          device,
          peerLines.map((line) => ({ file, line })),
        );
      } finally {
        wipeSecrets(device);
      }
    },
    report: (e) => {
      printError(ctx, e);
    },
  };
}

/** Runs one quick verb: usage on a wrong argument count, `wgm: message` for what it dies of. */
export async function runQuick(
  args: string[],
  ctx: Ctx,
  body: (arg: string) => Promise<number>,
): Promise<number> {
  if (args.length !== 1) {
    ctx.err(quickUsage(ctx.prog));
    return 1;
  }
  try {
    return await body(args[0]!);
  } catch (e) {
    if (!isWgError(e) || e.code !== 'quick') throw e;
    ctx.err(`${ctx.prog}: ${e.message}\n`);
    return e.exitCode;
  }
}
