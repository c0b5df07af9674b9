// What wgm up, down and reload share in cli/: argument count and usage (wg-quick's), the
// bridge from quick/ to the config applier (setconf/syncconf semantics, with the refusal of
// several endpoints on a backend that holds one), and error printing.

import { getDevice } from '../backend/backend.js';
import { loadParsedConfig } from '../config/parse.js';
import { applyPeerOptions } from '../config/peer-options.js';
import { isWgError } from '../model/errors.js';
import { type Device, keysEqual } from '../model/index.js';
import { sameSockAddr } from '../model/inet.js';
import type { QuickDeps } from '../quick/up.js';
import { applyConf, backendResolvesNames } from './conf-apply.js';
import type { Ctx } from './context.js';
import { printError } from './errors.js';
import { quickUsage } from './strip.js';

export function quickDeps(ctx: Ctx): QuickDeps {
  return {
    applyConfig: async (verb, iface, text, file, opts = {}) => {
      const { device, peerLines } = await loadParsedConfig(text, {
        file,
        env: ctx.env,
        deferNames: await backendResolvesNames(iface, text, file, ctx.env),
        onWarning: (t) => ctx.err(`${t}\n`),
      });
      if (opts.fwmark !== undefined) device.fwmark ??= opts.fwmark;
      applyPeerOptions(device, peerLines, opts.peerOptions ?? []);
      // reload: a key deleted from the file goes back to its default.
      if (verb === 'syncconf')
        for (const p of device.peers) {
          p.policy ??= 'latency';
          p.roaming ??= true;
        }
      if (verb === 'syncconf') await keepUnchangedEndpoints(iface, device);
      await applyConf(
        verb,
        iface,
        device,
        peerLines.map((line) => ({ file, line })),
      );
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

/**
 * reload: a peer whose endpoints are exactly those the device holds (same addresses, same
 * order) is sent without them. Setting an endpoint list again makes wgm-engine start choosing
 * among the candidates afresh (from the first), which would interrupt a working path; leaving
 * the list out keeps the path and the session, which is what a reload promises.
 */
async function keepUnchangedEndpoints(iface: string, change: Device): Promise<void> {
  let current: Device;
  try {
    current = await getDevice(iface);
  } catch {
    return; // the apply itself reports the failure
  }
  for (const p of change.peers) {
    const key = p.publicKey;
    const cur = key && current.peers.find((c) => c.publicKey && keysEqual(c.publicKey, key));
    if (!cur || p.endpoints.length === 0 || p.endpoints.length !== cur.endpoints.length) continue;
    const same = p.endpoints.every((e, i) => {
      const a = e.addr;
      const b = cur.endpoints[i]?.addr;
      return a !== undefined && b !== undefined && sameSockAddr(a, b);
    });
    if (same) p.endpoints = [];
  }
}
