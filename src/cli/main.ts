// argv in, exit status out. The only place that prints errors (docs/architecture.md, "Errors and
// output").

import { findVerb } from './commands.js';
import { type Ctx, processCtx } from './context.js';
import { printError } from './errors.js';
import { VERSION } from './version.js';

const VERSION_WORDS = new Set(['-v', '--version', 'version']);
const HELP_WORDS = new Set(['-h', '--help', 'help']);

export async function main(args: string[], ctx: Ctx = processCtx('wgm')): Promise<number> {
  try {
    return await dispatch(args, ctx);
  } catch (e) {
    return printError(ctx, e);
  }
}

async function dispatch(args: string[], ctx: Ctx): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) return runVerb('show', [], ctx);
  if (args.length === 1 && VERSION_WORDS.has(first)) {
    ctx.out(`wgm v${VERSION} - WireGuard tools with several endpoints per peer\n`);
    return 0;
  }
  if (args.length === 1 && HELP_WORDS.has(first)) {
    const { mainHelp } = await import('./frame.js');
    ctx.out(await mainHelp(ctx.prog));
    return 0;
  }
  const verb = findVerb(first);
  if (!verb) {
    const { mainHelp } = await import('./frame.js');
    ctx.err(`Invalid subcommand: \`${first}'\n${await mainHelp(ctx.prog)}`);
    return 1;
  }
  if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
    const { verbHelp } = await import('./frame.js');
    ctx.out(await verbHelp(ctx.prog, verb));
    return 0;
  }
  return runVerb(first, rest, ctx);
}

async function runVerb(name: string, rest: string[], ctx: Ctx): Promise<number> {
  const verb = findVerb(name)!;
  const mod = await verb.load();
  return mod.run(rest, ctx);
}
