// PreUp, PostUp, PreDown, PostDown (wireguard-tools src/wg-quick/linux.bash, `execute_hooks`):
// every `%i` becomes the interface name, the hook is echoed as `[#] hook`, then run by bash.
// wg-quick evaluates hooks in a subshell of its own bash process, so they also see its shell
// variables; a separate `bash -c` cannot, so wgm exports the ones hooks use in practice:
// INTERFACE, CONFIG_FILE and PROGRAM. A hook that exits non-zero stops the verb.

import type { Runner } from './run.js';

export async function runHooks(
  runner: Runner,
  hooks: readonly string[],
  vars: { iface: string; configFile: string; program: string },
): Promise<void> {
  for (const raw of hooks) {
    const hook = raw.replaceAll('%i', vars.iface);
    await runner.cmd(['bash', '-c', hook], {
      shown: hook,
      env: {
        ...runner.io.env,
        LC_ALL: 'C',
        INTERFACE: vars.iface,
        CONFIG_FILE: vars.configFile,
        PROGRAM: vars.program,
      },
    });
  }
}
