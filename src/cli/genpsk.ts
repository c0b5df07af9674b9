import type { Ctx } from './context.js';
import { generateKeyVerb } from './keygen.js';

export async function run(args: string[], ctx: Ctx): Promise<number> {
  return generateKeyVerb('genpsk', args, ctx);
}
