// Turning a thrown error into wg-style stderr lines and an exit status.

import { isWgError } from '../model/errors.js';
import type { Ctx } from './context.js';

export function printError(ctx: Ctx, e: unknown): number {
  if (isWgError(e)) {
    ctx.err(`${e.location()}${e.message}\n`);
    for (const line of e.trailer) ctx.err(`${line}\n`);
    return e.exitCode;
  }
  // A bug: say so plainly, with the trace only when asked for.
  const msg = e instanceof Error ? e.message : String(e);
  ctx.err(`wgm: internal error: ${msg}\n`);
  if (ctx.env['WGM_DEBUG'] && e instanceof Error && e.stack) ctx.err(`${e.stack}\n`);
  return 1;
}
