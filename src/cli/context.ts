// What a verb gets to talk to the world: its name for messages, the environment and the two
// output streams. Verbs write through this so tests can run them in-process too.

export interface Ctx {
  /** The program name used in usage lines and some errors (wg uses argv[0]). */
  prog: string;
  env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  /** Raw bytes to stdout, for output that need not be UTF-8 (a config's Latin-1 comment). */
  outBytes(bytes: Uint8Array): void;
  stdin: NodeJS.ReadableStream & { fd?: number };
  stdoutIsTTY: boolean;
  /** File descriptor of stdout, for checks such as "is it a world-readable regular file". */
  stdoutFd: number;
}

export function processCtx(prog: string): Ctx {
  return {
    prog,
    env: process.env,
    out: (text) => {
      process.stdout.write(text);
    },
    err: (text) => {
      process.stderr.write(text);
    },
    outBytes: (bytes) => {
      process.stdout.write(bytes);
    },
    stdin: process.stdin,
    stdoutIsTTY: process.stdout.isTTY === true,
    stdoutFd: 1,
  };
}

/** The signature every verb module exports as `run`. Returns the exit status. */
export type VerbRun = (args: string[], ctx: Ctx) => Promise<number>;
