// wgm strip <NAME|path>: wg-quick's `strip` (cmd_strip in wireguard-tools src/wg-quick/linux.bash).
// The config without wg-quick's own [Interface] keys, for `wg syncconf IF <(wgm strip IF)`.
//
// Contract: stdout is byte for byte wg-quick's and so is the exit status; stderr is wg-quick's
// text with the program name (`wgm`) where wg-quick says `wg-quick`, and bash's own
// `/usr/bin/wg-quick: line N: ` prefix (on a read or open failure) also becomes `wgm: `.
// Several Endpoint lines in a [Peer] pass through untouched, like every line wg-quick leaves.
//
// Root: wg-quick re-runs itself through sudo for every verb, strip included. wgm strip does
// not: it only reads one file, so it runs as the caller, and a file or directory the caller
// may not read is reported as `wgm: PATH: Permission denied` (run it with sudo to read
// root's 0600 configs). Asking for a password in the middle of a pipeline such as
// `wg syncconf wg0 <(wgm strip wg0)` helps nobody, and a read-only command needs no rights
// its caller lacks.
//
// `wgm strip --help` prints wgm's help for the verb (the CLI frame answers it), where
// wg-quick would look for `/etc/wireguard/--help.conf`.

import { parseQuickConfig } from '../config/quick.js';
import { isWgError } from '../model/errors.js';
import { readQuickFile, resolveQuickTarget } from '../quick/paths.js';
import type { Ctx } from './context.js';

export async function run(args: string[], ctx: Ctx): Promise<number> {
  if (args.length !== 1) {
    ctx.err(quickUsage(ctx.prog));
    return 1;
  }
  try {
    const target = resolveQuickTarget(args[0]!);
    if (target.warning) ctx.err(`${target.warning}\n`);
    const file = readQuickFile(target.path);
    if (file.readError) ctx.err(`${ctx.prog}: ${file.readError}\n`);
    const cfg = parseQuickConfig(file.bytes);
    // `echo "$WG_CONFIG"`: the kept lines, each ending in a newline, and one more newline.
    ctx.outBytes(Buffer.concat([cfg.wgConfig, Buffer.from('\n')]));
    return 0;
  } catch (e) {
    if (!isWgError(e)) throw e;
    ctx.err(`${ctx.prog}: ${e.message}\n`);
    return e.exitCode;
  }
}

/** wg-quick's usage text, with this program's name; the up, down and save verbs share it. */
export function quickUsage(prog: string): string {
  return `Usage: ${prog} [ up | down | save | strip ] [ CONFIG_FILE | INTERFACE ]

  CONFIG_FILE is a configuration file, whose filename is the interface name
  followed by \`.conf'. Otherwise, INTERFACE is an interface name, with
  configuration found at /etc/wireguard/INTERFACE.conf. It is to be readable
  by wg(8)'s \`setconf' sub-command, with the exception of the following additions
  to the [Interface] section, which are handled by ${prog}:

  - Address: may be specified one or more times and contains one or more
    IP addresses (with an optional CIDR mask) to be set for the interface.
  - DNS: an optional DNS server to use while the device is up.
  - MTU: an optional MTU for the interface; if unspecified, auto-calculated.
  - Table: an optional routing table to which routes will be added; if
    unspecified or \`auto', the default table is used. If \`off', no routes
    are added.
  - PreUp, PostUp, PreDown, PostDown: script snippets which will be executed
    by bash(1) at the corresponding phases of the link, most commonly used
    to configure DNS. The string \`%i' is expanded to INTERFACE.
  - SaveConfig: if set to \`true', the configuration is saved from the current
    state of the interface upon shutdown.

See wg-quick(8) for more info and examples.
`;
}
