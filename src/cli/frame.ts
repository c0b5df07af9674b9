// The yargs frame: help, version and the answer to an unknown verb. It is loaded only when
// one of those is asked for (yargs alone costs ~100 ms to import, more than node's own
// start-up), so that the verbs people script, `wgm genkey` or `wgm show`, start as fast as wg.

import yargs from 'yargs';
import { VERBS, type Verb } from './commands.js';
import { VERSION } from './version.js';

function frame(prog: string) {
  let y = yargs([])
    .scriptName(prog)
    .usage(`Usage: ${prog} <cmd> [<args>]`)
    .version(VERSION)
    .help(false)
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .epilogue(
      `You may pass \`--help' to any of these subcommands to view usage. With no <cmd>, ${prog} runs \`show'. ${prog} reads the same files as wg and wg-quick, and a [Peer] ` +
        'may carry several Endpoint lines: see wgm.conf(5) and wgm(8).',
    );
  for (const verb of VERBS) {
    const tag = verb.family === 'wg' ? '' : verb.family === 'quick' ? ' (wg-quick)' : ' (wgm)';
    y = y.command(verb.name, `${verb.describe}${tag}`);
  }
  return y;
}

/** The top-level help text. */
export async function mainHelp(prog: string): Promise<string> {
  return `${await frame(prog).getHelp()}\n`;
}

/** Help for one verb. */
export async function verbHelp(prog: string, verb: Verb): Promise<string> {
  const y = yargs([])
    .scriptName(prog)
    .usage(`Usage: ${prog} ${verb.name}${verb.args ? ` ${verb.args}` : ''}\n\n${verb.describe}.`)
    .version(false)
    .help(false)
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .epilogue(`See wgm(8) for the full grammar of \`${verb.name}'.`);
  return `${await y.getHelp()}\n`;
}
