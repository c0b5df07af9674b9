// wgm show: wireguard-tools src/show.c, show_main. Grammar, messages and exit statuses are wg's:
//   show [ { <interface> | all | interfaces } [ <field> ] ]   (at most two words)
// plus wgm's `--json` anywhere on the line (one document; see show-json.ts).

import { getDevice, listDevices } from '../backend/backend.js';
import { isWgError } from '../model/errors.js';
import type { Device } from '../model/index.js';
import type { Ctx } from './context.js';
import { colorMode, terminal } from './format.js';
import { deviceJson, toJson } from './show-json.js';
import { FIELDS, field, pretty } from './show-print.js';

const HELP_WORDS = new Set(['-h', '--help', 'help']);

function usage(ctx: Ctx): void {
  ctx.err(`Usage: ${ctx.prog} show { <interface> | all | interfaces } [${FIELDS.join(' | ')}]\n`);
}

function invalidField(ctx: Ctx, f: string): number {
  ctx.err(`Invalid parameter: \`${f}'\n`);
  usage(ctx);
  return 1;
}

/** A backend failure's message (strerror text); anything else is a bug and propagates. */
function failure(e: unknown): string {
  if (isWgError(e)) return e.message;
  throw e;
}

/** The interface names, or undefined after wg's message when they cannot be listed. */
async function listOrReport(ctx: Ctx): Promise<string[] | undefined> {
  try {
    return await listDevices();
  } catch (e) {
    ctx.err(`Unable to list interfaces: ${failure(e)}\n`);
    return undefined;
  }
}

export async function run(argv: string[], ctx: Ctx): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.length > 2 || (json && args.length > 1)) {
    usage(ctx);
    return 1;
  }
  const printers = {
    tp: terminal(colorMode(ctx.env, ctx.stdoutIsTTY)),
    showKeys: ctx.env['WG_HIDE_KEYS'] === 'never',
  };
  const [first, fieldName] = args;

  if (first === undefined || first === 'all') {
    const names = await listOrReport(ctx);
    if (!names) return 1;
    let ret = names.length > 0 ? 1 : 0;
    const docs: unknown[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      let device: Device;
      try {
        device = await getDevice(name);
      } catch (e) {
        ctx.err(`Unable to access interface ${name}: ${failure(e)}\n`);
        continue;
      }
      const shown = device.name ?? name;
      if (json) docs.push(deviceJson(device, shown));
      else if (fieldName !== undefined) {
        const text = field(device, shown, fieldName, true);
        if (text === undefined) return invalidField(ctx, fieldName);
        ctx.out(text);
      } else {
        ctx.out(pretty(device, shown, printers));
        if (i + 1 < names.length) ctx.out('\n');
      }
      ret = 0;
    }
    if (json) ctx.out(`${toJson({ interfaces: docs })}\n`);
    return ret;
  }

  if (first === 'interfaces') {
    if (args.length > 1 || json) {
      usage(ctx);
      return 1;
    }
    const names = await listOrReport(ctx);
    if (!names) return 1;
    if (names.length > 0) ctx.out(`${names.join(' ')}\n`);
    return 0;
  }

  if (args.length === 1 && HELP_WORDS.has(first)) {
    usage(ctx);
    return 0;
  }

  let device: Device;
  try {
    device = await getDevice(first);
  } catch (e) {
    ctx.err(`Unable to access interface: ${failure(e)}\n`);
    return 1;
  }
  const shown = device.name ?? first;
  if (json) {
    ctx.out(`${toJson({ interfaces: [deviceJson(device, shown)] })}\n`);
    return 0;
  }
  if (fieldName !== undefined) {
    const text = field(device, shown, fieldName, false);
    if (text === undefined) return invalidField(ctx, fieldName);
    ctx.out(text);
    return 0;
  }
  ctx.out(pretty(device, shown, printers));
  return 0;
}
