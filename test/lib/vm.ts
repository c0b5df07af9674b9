// Running commands in the kernel-WireGuard test VM from tests (test/vm/run-in-vm.sh): the host
// kernel has no wireguard.ko, so live kernel tests boot a Debian kernel that has it. Each boot
// costs several seconds under TCG, so a test file should batch its work into one boot.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './run.js';

export const RUN_IN_VM = join(ROOT, 'test/vm/run-in-vm.sh');
/** run-in-vm.sh's status when the VM itself failed (boot failure, timeout). */
export const VM_FAILURE = 125;

export interface VmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd` with `bash -c` in a fresh VM (cwd: the project root; PATH as on the host) and
 * resolves with its exit status and separate stdout/stderr. `timeoutMs` bounds the whole run;
 * `env` adds variables for run-in-vm.sh (its knobs, or TMPDIR for its run directory).
 */
export function runInVm(
  cmd: string,
  opts: { timeoutMs?: number; memMiB?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<VmResult> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    VM_TIMEOUT: String(Math.ceil(timeoutMs / 1000)),
  };
  if (opts.memMiB !== undefined) env['VM_MEM'] = String(opts.memMiB);
  return new Promise((resolve, reject) => {
    const child = spawn(RUN_IN_VM, [cmd], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    // The script enforces the timeout itself; this is the backstop if it hangs anyway.
    const killer = setTimeout(() => child.kill('SIGTERM'), timeoutMs + 30_000);
    child.on('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({
        status,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** Whether a kernel the VM can boot (wireguard + 9p modules) is installed. */
export function vmKernelInstalled(): boolean {
  try {
    return readdirSync('/lib/modules').some(
      (v) =>
        existsSync(join('/lib/modules', v, 'kernel/drivers/net/wireguard')) &&
        existsSync(`/boot/vmlinuz-${v}`),
    );
  } catch {
    return false;
  }
}

/**
 * Splits output made of `=== name ===` header lines followed by text into a map from name to
 * text (each without the final newline).
 */
export function sections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (name !== undefined) out.set(name, lines.join('\n'));
  };
  for (const line of stdout.split('\n')) {
    const m = /^=== (.+) ===$/.exec(line);
    if (m) {
      flush();
      name = m[1]!;
      lines = [];
    } else lines.push(line);
  }
  if (name !== undefined && lines[lines.length - 1] === '') lines.pop();
  flush();
  return out;
}
