// wgm-engine's log, with wireguard-go's levels and line shape (wireguard-go device/logger.go):
//
//   LOG_LEVEL=verbose|debug   everything          DEBUG: (wg0) 2026/01/02 15:04:05 Device started
//   LOG_LEVEL=error (default) errors only         ERROR: (wg0) 2026/01/02 15:04:05 UAPI: ...
//   LOG_LEVEL=silent          nothing
//
// One difference, on purpose: wireguard-go writes its log to stdout; wgm-engine writes it to
// stderr (stdout stays clean for tools that capture it). A daemonised engine keeps the
// caller's stderr only when LOG_LEVEL is set to a level other than silent, as wireguard-go
// does with its stdout; otherwise its log goes nowhere (daemon.ts).
//
// Secrets never reach a log line: callers log public keys in wireguard-go's short form only.

export type LogLevel = 'verbose' | 'error' | 'silent';

/** LOG_LEVEL as wireguard-go reads it: verbose|debug → verbose; error; silent; else error. */
export function logLevelFrom(value: string | undefined): LogLevel {
  switch (value) {
    case 'verbose':
    case 'debug':
      return 'verbose';
    case 'silent':
      return 'silent';
    default:
      return 'error';
  }
}

const two = (n: number) => String(n).padStart(2, '0');

/** Go's log.Ldate|log.Ltime prefix in local time: `2006/01/02 15:04:05 `. */
export function goLogTime(d: Date): string {
  return `${d.getFullYear()}/${two(d.getMonth() + 1)}/${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} `;
}

export type LogSink = (line: string) => void;

export class Logger {
  constructor(
    readonly level: LogLevel,
    private readonly ifname: string,
    private readonly sink: LogSink = (line) => process.stderr.write(line),
    private readonly clock: () => Date = () => new Date(),
  ) {}

  verbose(msg: string): void {
    if (this.level === 'verbose') this.write('DEBUG', msg);
  }

  error(msg: string): void {
    if (this.level !== 'silent') this.write('ERROR', msg);
  }

  private write(tag: string, msg: string): void {
    try {
      this.sink(`${tag}: (${this.ifname}) ${goLogTime(this.clock())}${msg}\n`);
    } catch {
      // A closed stderr must not take the daemon down.
    }
  }
}
