// Shared by genkey and genpsk: 32 random bytes, base64, and wg's warning when stdout is a regular
// file that others may read (wireguard-tools src/genkey.c, genkey_main).

import { fstatSync } from 'node:fs';
import { clampPrivateKey, keyToBase64 } from '../crypto/keys.js';
import { randomBytes } from '../crypto/random.js';
import { KEY_LEN } from '../model/index.js';
import type { Ctx } from './context.js';

export function generateKeyVerb(name: 'genkey' | 'genpsk', args: string[], ctx: Ctx): number {
  if (args.length !== 0) {
    ctx.err(`Usage: ${ctx.prog} ${name}\n`);
    return 1;
  }
  try {
    const st = fstatSync(ctx.stdoutFd);
    if (st.isFile() && (st.mode & 0o007) !== 0) {
      ctx.err(
        'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n',
      );
    }
  } catch {
    // wg ignores a failing fstat too.
  }
  const raw = randomBytes(KEY_LEN);
  const key = name === 'genkey' ? clampPrivateKey(raw) : raw;
  ctx.out(`${keyToBase64(key)}\n`);
  key.fill(0);
  raw.fill(0);
  return 0;
}
