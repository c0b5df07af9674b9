// wgm monitor [<interface>] [--json]: streams path events as they happen, one line each: the
// interface, the peer, the path before and after, and why (a line per event with --json: one
// JSON object). wgm's own verb. Without an interface: every interface whose daemon can stream
// them (wgm-engine advertises `monitor` in its get reply). Runs until interrupted, or until
// every stream has ended (its daemon stopped): exit 0 then; 1 when there is nothing to watch.

import { capabilities, listDevices, wgName } from '../backend/backend.js';
import { monitor, type PathEvent } from '../backend/monitor.js';
import { isWgError } from '../model/errors.js';
import type { Ctx } from './context.js';

function usage(ctx: Ctx): number {
  ctx.err(`Usage: ${ctx.prog} monitor [<interface>] [--json]\n`);
  return 1;
}

function base64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** HH:MM:SS.mmm, local time. */
function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function humanLine(iface: string, ev: PathEvent): string {
  return `${clock(ev.at)} ${iface}: peer ${base64(ev.peer)}: ${ev.from ?? '(none)'} -> ${ev.to} (${ev.reason})\n`;
}

export function jsonLine(iface: string, ev: PathEvent): string {
  return `${JSON.stringify({
    interface: iface,
    peer: base64(ev.peer),
    from: ev.from ?? null,
    to: ev.to,
    reason: ev.reason,
    at: ev.at,
  })}\n`;
}

async function canStream(name: string): Promise<boolean> {
  try {
    return (await capabilities(name)).monitor === true;
  } catch {
    return false;
  }
}

export async function run(args: string[], ctx: Ctx): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  if (rest.length > 1 || rest.some((a) => a.startsWith('-'))) return usage(ctx);
  let names: string[];
  if (rest[0] !== undefined) {
    const name = wgName(rest[0]);
    let caps: Awaited<ReturnType<typeof capabilities>>;
    try {
      caps = await capabilities(name);
    } catch (e) {
      if (!isWgError(e)) throw e;
      ctx.err(`Unable to access interface ${name}: ${e.message}\n`);
      return 1;
    }
    if (caps.monitor !== true) {
      const who =
        caps.kind === 'kernel'
          ? 'it is a kernel WireGuard interface'
          : `it is run by ${caps.implementation ?? 'a userspace daemon (such as wireguard-go)'}`;
      ctx.err(
        `Unable to monitor ${name}: ${who}, which cannot stream path events; wgm monitor needs wgm-engine\n`,
      );
      return 1;
    }
    names = [name];
  } else {
    names = [];
    for (const n of await listDevices()) if (await canStream(n)) names.push(n);
    if (names.length === 0) {
      ctx.err('No interface to monitor: no wgm-engine interface is running\n');
      return 1;
    }
  }
  const print = (iface: string) => (ev: PathEvent) =>
    ctx.out(json ? jsonLine(iface, ev) : humanLine(iface, ev));
  const streams = [];
  for (const n of names) {
    try {
      streams.push(await monitor(n, print(n)));
    } catch (e) {
      if (!isWgError(e)) throw e;
      ctx.err(`Unable to monitor ${n}: ${e.message}\n`);
    }
  }
  if (streams.length === 0) return 1;
  ctx.err(`Watching ${names.join(', ')} (Ctrl-C to stop)\n`);
  await Promise.allSettled(streams.map((s) => s.done));
  return 0;
}
