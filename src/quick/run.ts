// The one place where wgm up/down/reload touch the system. Every change is echoed first as
// `[#] command words` on stderr, as wg-quick's `cmd()` does (wireguard-tools
// src/wg-quick/linux.bash, `cmd`), then executed; the command's own stdout and stderr go to
// ours, so `ip`'s "Error: ..." lines appear under the trace line as they do with wg-quick.
// Read-only queries (`ip route show ...`) run silently, as wg-quick's `$(...)` substitutions do.
//
// wg-quick feeds some commands a process substitution and its trace shows `/dev/fd/63`
// (`nft -f /dev/fd/63`, `wg setconf IF /dev/fd/63`); wgm gives the same text on the command's
// stdin (`nft -f -`) and keeps wg-quick's trace text, so the traces of the two stay comparable.
//
// Signals: while a Runner is armed, SIGINT, SIGTERM and SIGHUP do not end the process; they are
// passed on to the command running (a hook's `sleep` ends), remembered, and the step throws
// Interrupted, so the caller unwinds what it did (wg-quick's `trap 'del_if; exit' INT TERM
// EXIT` in cmd_up).

import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { WgError } from '../model/errors.js';

export interface Query {
  status: number;
  stdout: string;
  stderr: string;
}

export interface RunnerIo {
  /** Writes to stderr (the trace). */
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** A step failed: the command's status, and what it was. */
export class StepFailed extends WgError {
  constructor(
    readonly command: string,
    status: number,
    why?: string,
  ) {
    super('quick', why ?? `\`${command}' failed with status ${status}`, { exitCode: status || 1 });
  }
}

/** A signal arrived while up or reload was changing the system. */
export class Interrupted extends WgError {
  constructor(readonly signal: NodeJS.Signals) {
    const n = (constants.signals as Record<string, number>)[signal] ?? 15;
    super('quick', `interrupted by ${signal}`, { exitCode: 128 + n });
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class Runner {
  private pending: NodeJS.Signals | undefined;
  /** The command running now: a signal is passed on to it, as a terminal does to its group. */
  private current: ChildProcess | undefined;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.pending ??= sig;
    this.current?.kill(sig);
  };
  private armed = false;

  constructor(readonly io: RunnerIo) {}

  /** From now on a signal is remembered instead of ending the process. */
  arm(): void {
    if (this.armed) return;
    this.armed = true;
    for (const s of SIGNALS) process.on(s, this.onSignal);
  }

  disarm(): void {
    if (!this.armed) return;
    this.armed = false;
    for (const s of SIGNALS) process.off(s, this.onSignal);
  }

  /** Throws Interrupted when a signal came in since the last step. */
  async check(): Promise<void> {
    // Let a signal that arrived during the last step reach its handler first.
    await new Promise((r) => setImmediate(r));
    if (this.pending) throw new Interrupted(this.pending);
  }

  /** `[#] text` on stderr. */
  trace(text: string): void {
    this.io.err(`[#] ${text}\n`);
  }

  /** `[!] text` on stderr: what wgm chose and why. */
  note(text: string): void {
    this.io.err(`[!] ${text}\n`);
  }

  /**
   * Echoes and runs a command that changes the system. Throws StepFailed when it exits non-zero
   * (or cannot be started: status 127, as the shell says).
   */
  async cmd(
    argv: string[],
    opts: { input?: string; shown?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<void> {
    await this.check();
    const shown = opts.shown ?? argv.join(' ');
    this.trace(shown);
    const status = await this.spawnInherit(argv, opts.input, opts.env);
    await this.check();
    if (status !== 0) throw new StepFailed(shown, status);
  }

  /** Like cmd, but a failure is reported and ignored (wg-quick's `|| true` teardown steps). */
  async cmdIgnore(argv: string[], opts: { input?: string; shown?: string } = {}): Promise<number> {
    const shown = opts.shown ?? argv.join(' ');
    this.trace(shown);
    return this.spawnInherit(argv, opts.input, undefined);
  }

  /** Runs a command silently and returns what it printed (a failure is a status, not a throw). */
  query(argv: string[], opts: { input?: string } = {}): Promise<Query> {
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      const p = spawn(argv[0]!, argv.slice(1), {
        env: this.io.env,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      p.stdout!.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      p.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      if (opts.input !== undefined) p.stdin!.end(opts.input);
      p.once('error', (e) => resolve({ status: 127, stdout, stderr: `${argv[0]}: ${e.message}\n` }));
      p.once('close', (code, sig) => resolve({ status: code ?? 128 + signo(sig), stdout, stderr }));
    });
  }

  private spawnInherit(
    argv: string[],
    input: string | undefined,
    env: NodeJS.ProcessEnv | undefined,
  ): Promise<number> {
    return new Promise((resolve) => {
      const p = spawn(argv[0]!, argv.slice(1), {
        env: env ?? this.io.env,
        stdio: [input === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'],
      });
      this.current = p;
      p.once('exit', () => {
        if (this.current === p) this.current = undefined;
      });
      if (input !== undefined) {
        p.stdin!.on('error', () => {});
        p.stdin!.end(input);
      }
      p.once('error', (e: NodeJS.ErrnoException) => {
        this.io.err(`${argv[0]}: ${e.code === 'ENOENT' ? 'command not found' : e.message}\n`);
        resolve(127);
      });
      p.once('close', (code, sig) => resolve(code ?? 128 + signo(sig)));
    });
  }
}

function signo(sig: NodeJS.Signals | null): number {
  return sig ? ((constants.signals as Record<string, number>)[sig] ?? 0) : 0;
}

/** Whether a program is on PATH (bash's `type -p` / `command -v`). */
export async function onPath(runner: Runner, program: string): Promise<boolean> {
  const r = await runner.query(['sh', '-c', 'command -v "$1" >/dev/null', 'sh', program]);
  return r.status === 0;
}
