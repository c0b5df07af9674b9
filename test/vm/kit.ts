// Building one guest run for a kernel test file: a host temp directory (visible in the guest
// through the shared root) holding input files and the job list for guest-ops' batch mode, a
// bash script, and `=== name ===` sections to read the results back. One VM boot per file.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { BUILD, need } from '../lib/run.js';
import { runInVm, sections, type VmResult, vmKernelInstalled } from '../lib/vm.js';

export const GUEST_OPS = join(BUILD, 'test/vm/guest-ops.js');

/** A random 32-byte key in base64 (any 32 bytes do for a peer's public key). */
export function randomKey(): string {
  return randomBytes(32).toString('base64');
}

/** Single-quotes a word for bash. */
export function sh(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

export class GuestRun {
  /**
   * A guest run for test `t`, cleaned up after it; undefined (and `t` skipped) without root or
   * QEMU and wg. A missing guest kernel is a failure: test/setup-system.sh installs one.
   */
  static start(t: TestContext): GuestRun | undefined {
    if (!need(t, { root: true, commands: ['qemu-system-x86_64', 'wg'] })) return undefined;
    assert.ok(
      vmKernelInstalled(),
      'no kernel with wireguard.ko for the VM (test/setup-system.sh installs one)',
    );
    const g = new GuestRun();
    t.after(() => g.cleanup());
    return g;
  }

  readonly dir = mkdtempSync(join(tmpdir(), 'wgm-kvm-'));
  private readonly lines: string[] = [];
  private readonly jobs: { op: string[]; out: string }[][] = [];

  /** Writes a file now (on the host, before the VM starts) and returns its path. */
  file(name: string, content: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, content);
    return p;
  }

  /** Appends script lines. */
  run(...lines: string[]): this {
    this.lines.push(...lines);
    return this;
  }

  /** Prints `=== name ===` and the output of `command` (stdout and stderr), then its status. */
  section(name: string, command: string): this {
    return this.run(
      `echo '=== ${name} ==='`,
      `( ${command} ) 2>&1`,
      `echo "=== ${name} status ==="; echo $?`,
    );
  }

  /**
   * Adds one node process running `ops` in order ([op, ...args] each); returns the output
   * paths: the op's output is in `path`, a failure in `path.err`, timings in `path.ms`.
   */
  batch(ops: [string, ...string[]][]): string[] {
    const n = this.jobs.length;
    const jobs = ops.map((op, i) => ({ op, out: join(this.dir, `job${n}-${i}`) }));
    this.jobs.push(jobs);
    const file = this.file(`jobs${n}.json`, JSON.stringify(jobs));
    this.run(`node ${GUEST_OPS} batch ${file}`);
    return jobs.map((j) => j.out);
  }

  /** Prints a batch output (with its error and timing files) as sections `name`, `name err`, `name ms`. */
  show(name: string, out: string): this {
    return this.run(
      `echo '=== ${name} ==='; cat ${out} 2>/dev/null`,
      `echo '=== ${name} err ==='; cat ${out}.err 2>/dev/null`,
      `echo '=== ${name} ms ==='; cat ${out}.ms 2>/dev/null; true`,
    );
  }

  /** Starts recording netlink traffic on nlmon0 in the background (waits until it listens). */
  nlmonStart(): this {
    const d = this.dir;
    return this.run(
      'ip link add nlmon0 type nlmon && ip link set nlmon0 up',
      `node ${GUEST_OPS} nlmon nlmon0 ${d}/nlmon.cap ${d}/nlmon.ready ${d}/nlmon.stop >${d}/nlmon.out 2>&1 &`,
      'nlmon_pid=$!',
      `for _ in $(seq 1 1200); do [ -e ${d}/nlmon.ready ] && break; sleep 0.1; done`,
      `[ -e ${d}/nlmon.ready ] || { echo 'nlmon capture did not start' >&2; cat ${d}/nlmon.out >&2; exit 1; }`,
    );
  }

  nlmonStop(): string {
    const d = this.dir;
    this.run(`touch ${d}/nlmon.stop`, 'wait $nlmon_pid', `echo '=== nlmon ==='; cat ${d}/nlmon.out`);
    return `${d}/nlmon.cap`;
  }

  async boot(timeoutMs: number): Promise<{ result: VmResult; s: Map<string, string> }> {
    const result = await runInVm(this.lines.join('\n'), { timeoutMs });
    return { result, s: sections(result.stdout) };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
