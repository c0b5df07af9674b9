// wgm pubkey: wireguard-tools src/pubkey.c, pubkey_main. Exactly 44 bytes of key, then only NULs
// and whitespace.

import { KEY_B64_LEN, keyFromBase64, keyToBase64 } from '../crypto/keys.js';
import { publicKeyOf } from '../crypto/x25519.js';
import type { Ctx } from './context.js';
import { readAll } from './stdin.js';

// C isspace() in the "C" locale, plus NUL, which wg also tolerates after the key.
const TRAILING_OK = new Set([0x00, 0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

export async function run(args: string[], ctx: Ctx): Promise<number> {
  if (args.length !== 0) {
    ctx.err(`Usage: ${ctx.prog} pubkey\n`);
    return 1;
  }
  const input = await readAll(ctx.stdin);
  try {
    if (input.length < KEY_B64_LEN) {
      ctx.err(`${ctx.prog}: Key is not the correct length or format\n`);
      return 1;
    }
    for (let i = KEY_B64_LEN; i < input.length; i++) {
      if (!TRAILING_OK.has(input[i]!)) {
        ctx.err(`${ctx.prog}: Trailing characters found after key\n`);
        return 1;
      }
    }
    const key = keyFromBase64(input.subarray(0, KEY_B64_LEN).toString('latin1'));
    if (!key) {
      ctx.err(`${ctx.prog}: Key is not the correct length or format\n`);
      return 1;
    }
    ctx.out(`${keyToBase64(publicKeyOf(key))}\n`);
    key.fill(0);
    return 0;
  } finally {
    input.fill(0);
  }
}
