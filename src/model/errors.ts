// One error type for everything wgm reports. Library code throws it; only cli/ prints it.
//
// `message` is wg's own text where wg has one (so scripts and people who know wg recognise
// it); `where` says where the problem is (file and line, a peer, a backend); `trailer` holds
// the lines wg prints after the message (e.g. `Configuration parsing error`).
// Secrets never go into any of these fields.

export type ErrorCode =
  | 'usage'
  | 'config'
  | 'key'
  | 'io'
  | 'backend'
  | 'protocol'
  | 'resolve'
  | 'capability'
  | 'quick'
  | 'internal';

export interface ErrorWhere {
  file?: string;
  line?: number;
  peer?: string;
  backend?: string;
  iface?: string;
}

export class WgError extends Error {
  readonly code: ErrorCode;
  readonly where: ErrorWhere;
  readonly trailer: string[];
  /** Positive errno value when the failure came from the system or a backend. */
  readonly errno: number | undefined;
  /** Exit status the CLI should use (wg only ever uses 1). */
  readonly exitCode: number;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { where?: ErrorWhere; trailer?: string[]; errno?: number; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WgError';
    this.code = code;
    this.where = opts.where ?? {};
    this.trailer = opts.trailer ?? [];
    this.errno = opts.errno;
    this.exitCode = opts.exitCode ?? 1;
  }

  /** `file:line: ` when known, for prefixing the message. */
  location(): string {
    const { file, line } = this.where;
    if (file !== undefined && line !== undefined) return `${file}:${line}: `;
    if (file !== undefined) return `${file}: `;
    return '';
  }
}

export function isWgError(e: unknown): e is WgError {
  return e instanceof WgError;
}
