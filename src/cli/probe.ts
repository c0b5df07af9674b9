// wgm probe [<interface>] [--json]: which WireGuard backends this host has and what each can
// hold. wgm's own verb (no wg counterpart).
//
// Without an interface: the kernel (present or not, and why; its WireGuard links), then every
// userspace daemon socket (which implementation answers, the owning process, one or several
// endpoints per peer). Exit 0.
// With an interface: the backend wgm would use for it, and what it can hold. Exit 0 when
// something answers for it, 1 otherwise.
//
// --json prints the same as one document: the ProbeReport or InterfaceProbe of
// src/backend/probe.ts (field names as declared there).

import {
  type DaemonProbe,
  type InterfaceProbe,
  type ProbeReport,
  probeAll,
  probeInterface,
} from '../backend/probe.js';
import type { Ctx } from './context.js';

function usage(ctx: Ctx): number {
  ctx.err(`Usage: ${ctx.prog} probe [<interface>] [--json]\n`);
  return 1;
}

function endpointsWord(multi: boolean): string {
  return multi ? 'several endpoints per peer' : 'one endpoint per peer';
}

function who(d: DaemonProbe): string {
  const proc = d.process ? `${d.process.command}, pid ${d.process.pid}` : undefined;
  if (d.implementation !== undefined) return proc ? `${d.implementation} (${proc})` : d.implementation;
  return proc ? `unidentified daemon (${proc})` : 'unidentified daemon';
}

function daemonLine(d: DaemonProbe): string {
  if (!d.answers) return `  ${d.name}: ${d.socket}: does not answer: ${d.error ?? 'unknown error'}\n`;
  return `  ${d.name}: ${who(d)}, ${endpointsWord(d.multiEndpoint)}\n`;
}

export function reportText(r: ProbeReport): string {
  let s = '';
  if (r.kernel.available) {
    s += 'kernel WireGuard: available\n';
  } else {
    s += `kernel WireGuard: not available${r.kernel.reason ? ` (${r.kernel.reason})` : ''}\n`;
  }
  if (r.kernel.error !== undefined) s += `  cannot list its links: ${r.kernel.error}\n`;
  else if (r.kernel.interfaces.length > 0) {
    for (const name of r.kernel.interfaces) s += `  ${name}: kernel, ${endpointsWord(false)}\n`;
  }
  s += `userspace daemons (${r.socketDir}):`;
  s += r.daemons.length === 0 ? ' none\n' : '\n';
  for (const d of r.daemons) s += daemonLine(d);
  for (const name of r.staleRemoved) s += `  ${name}: stale socket removed (nobody listened)\n`;
  return s;
}

export function interfaceText(p: InterfaceProbe): string {
  let s = `interface: ${p.name}\n`;
  if (p.backend === 'uapi' && p.daemon) {
    s += `  backend: userspace (${p.daemon.socket})\n`;
    if (p.daemon.answers) {
      s += `  implementation: ${who(p.daemon)}\n`;
      s += `  endpoints: ${endpointsWord(p.multiEndpoint)}\n`;
    } else s += `  error: ${p.error ?? 'unknown error'}\n`;
  } else if (p.backend === 'kernel') {
    s += '  backend: kernel\n';
    if (p.error !== undefined) s += `  error: ${p.error}\n`;
    else s += `  endpoints: ${endpointsWord(false)}\n`;
  } else {
    s += `  backend: none (${p.error ?? 'nothing answers'})\n`;
  }
  return s;
}

function answered(p: InterfaceProbe): boolean {
  return p.backend !== 'none' && p.error === undefined;
}

export async function run(argv: string[], ctx: Ctx): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) return usage(ctx);
  if (args.length === 0) {
    const r = await probeAll();
    ctx.out(json ? `${JSON.stringify(r, null, 2)}\n` : reportText(r));
    return 0;
  }
  const p = await probeInterface(args[0]!);
  ctx.out(json ? `${JSON.stringify(p, null, 2)}\n` : interfaceText(p));
  return answered(p) ? 0 : 1;
}
