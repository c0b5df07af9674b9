// wgm-engine's process: arguments, daemonising, the UAPI socket, and when to stop (as wireguard-go's main.go).
//
//   wgm-engine [-f|--foreground] IFNAME
//
// Without -f (and without WG_PROCESS_FOREGROUND=1) the program re-runs itself detached, with
// WGM_ENGINE_DAEMON=1 and a pipe on fd 3, and waits: the child creates the TUN interface, the
// UDP port and the UAPI socket, then writes `ok` on the pipe (or `error <message>`) and closes
// it. The parent exits 0 only after `ok`, so the interface and a socket that accepts
// connections exist when it returns, which is what wg-quick's next step (`wg setconf`) needs.
// The child's stdin and stdout are /dev/null; it keeps the caller's stderr only when LOG_LEVEL
// is set to something other than silent (as wireguard-go), so a caller reading our stderr
// through a pipe is not kept waiting by the daemon.
//
// The engine stops, removes its socket and exits 0 when the TUN link is deleted (in whatever
// namespace it is by then: moving it to another one is no reason to stop, see link-watch.ts),
// when its socket file is removed or replaced, or on SIGINT/SIGTERM. It exits 1 when it
// cannot start.

import { spawn } from 'node:child_process';
import { closeSync, type FSWatcher, lstatSync, unlinkSync, watch, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { validIfname } from '../sys/ifname.js';
import { ENGINE_VERSION, EngineDevice } from './device.js';
import { keepYoungGenerationSmall, QuietCollector } from './heap.js';
import { LinkWatch } from './link-watch.js';
import { Logger, logLevelFrom } from './log.js';
import { UAPI_DIR, UapiServer, uapiSocketPath } from './uapi-server.js';

const DAEMON_ENV = 'WGM_ENGINE_DAEMON';
const READY_FD = 3;
/** How long the parent waits for the child to be ready. */
const READY_TIMEOUT_MS = 30_000;
/** How often the link and the socket file are checked (besides the events that report them). */
const WATCH_INTERVAL_MS = 1000;
/** A shutdown that takes longer than this ends the process anyway. */
const STOP_TIMEOUT_MS = 5000;

export interface Args {
  foreground: boolean;
  ifname: string;
}

/** wireguard-go's argument rules: `IF`, or `-f IF` / `--foreground IF`; anything else is usage. */
export function parseArgs(argv: string[]): Args | 'usage' | 'help' | 'version' {
  if (argv.length === 1 && argv[0] === '--version') return 'version';
  // wireguard-go would make an interface called `--help`; asking for help gets it instead.
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) return 'help';
  if (argv.length < 1 || argv.length > 2) return 'usage';
  if (argv[0] === '-f' || argv[0] === '--foreground') {
    return argv.length === 2 ? { foreground: true, ifname: argv[1]! } : 'usage';
  }
  return argv.length === 1 ? { foreground: false, ifname: argv[0]! } : 'usage';
}

function programName(): string {
  return basename(process.argv[1] ?? 'wgm-engine').replace(/\.js$/, '');
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'version') {
    process.stdout.write(
      `wgm-engine v${ENGINE_VERSION}\n\nUserspace WireGuard daemon with several endpoints per peer, for ${process.platform}-${process.arch}.\n`,
    );
    return 0;
  }
  if (args === 'usage' || args === 'help') {
    const usage = `Usage: ${programName()} [-f/--foreground] INTERFACE-NAME\n`;
    if (args === 'help') process.stdout.write(usage);
    else process.stderr.write(usage);
    return args === 'help' ? 0 : 1;
  }
  const child = process.env[DAEMON_ENV] === '1';
  const foreground = args.foreground || child || process.env['WG_PROCESS_FOREGROUND'] === '1';
  if (!foreground) return daemonise(argv);
  const log = new Logger(logLevelFrom(process.env['LOG_LEVEL']), args.ifname);
  keepYoungGenerationSmall();
  return serve(args.ifname, log, child ? readyPipe() : undefined);
}

// ---- The parent: start the child, wait for it to be ready ----

async function daemonise(argv: string[]): Promise<number> {
  const level = process.env['LOG_LEVEL'];
  const keepStderr = level !== undefined && level !== '' && logLevelFrom(level) !== 'silent';
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', keepStderr ? 'inherit' : 'ignore', 'pipe'],
    env: { ...process.env, [DAEMON_ENV]: '1' },
  });
  const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream & { destroy(): void };
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const timer = setTimeout(
      () => resolve('error timed out waiting for the daemon to start'),
      READY_TIMEOUT_MS,
    );
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      text += d;
    });
    pipe.on('error', () => {});
    pipe.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve(`error failed to start the daemon: ${e.message}`);
    });
  });
  pipe.destroy();
  child.unref();
  if (answer.startsWith('ok')) return 0;
  const message = answer.startsWith('error ')
    ? answer.slice(6).trim()
    : 'the daemon exited before it was ready';
  process.stderr.write(`${programName()}: ${message}\n`);
  if (child.exitCode === null) child.kill('SIGTERM');
  return 1;
}

/** The child's side of the readiness pipe. */
function readyPipe(): (error?: string) => void {
  let done = false;
  return (error) => {
    if (done) return;
    done = true;
    try {
      writeSync(READY_FD, error === undefined ? 'ok\n' : `error ${error}\n`);
      closeSync(READY_FD);
    } catch {
      // The parent is gone: nobody to tell.
    }
  };
}

// ---- The daemon itself ----

function inodeOf(path: string): number | undefined {
  try {
    const st = lstatSync(path);
    return st.isSocket() ? st.ino : undefined;
  } catch {
    return undefined;
  }
}

async function serve(ifname: string, log: Logger, ready?: (error?: string) => void): Promise<number> {
  // A log reader that went away (EPIPE on stderr) must not take the daemon down.
  process.stderr.on('error', () => {});
  log.verbose(`Starting wgm-engine version ${ENGINE_VERSION}`);
  if (!validIfname(ifname)) {
    const msg = `Failed to create TUN device: invalid interface name \`${ifname}'`;
    log.error(msg);
    ready?.(msg);
    return 1;
  }
  let device: EngineDevice;
  try {
    device = await EngineDevice.open(ifname, log);
  } catch (e) {
    const msg = `Failed to create TUN device: ${(e as Error).message}`;
    log.error(msg);
    ready?.(msg);
    return 1;
  }
  log.verbose('Device started');
  const path = uapiSocketPath(ifname);
  // A SIGTERM/SIGINT that comes once the socket is there (a supervisor may send it at once) must
  // still stop the daemon cleanly: record it from here on, the wait below picks it up.
  let early: string | undefined;
  const onEarly = (sig: string) => {
    early ??= sig;
  };
  process.once('SIGTERM', onEarly);
  process.once('SIGINT', onEarly);
  const collector = new QuietCollector();
  const server = new UapiServer(device, log, () => collector.changed());
  try {
    await server.listen(path);
  } catch (e) {
    const msg = `UAPI listen error: ${(e as Error).message}`;
    log.error(msg);
    ready?.(msg);
    await device.close();
    return 1;
  }
  const ino = inodeOf(path);
  const link = new LinkWatch(device, log, device.ifname);
  log.verbose('UAPI listener started');
  const removeSocket = () => {
    if (inodeOf(path) !== ino) return;
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  // A bug must not leave a hung process behind: exiting waits for the worker threads, which
  // only return once the data plane is stopped.
  const fatal = (e: unknown) => {
    log.error(`Fatal: ${(e as Error)?.stack ?? String(e)}`);
    removeSocket();
    forceExitAfter(STOP_TIMEOUT_MS, 1);
    device.close().then(
      () => process.exit(1),
      () => process.exit(1),
    );
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);

  const reason = await new Promise<string>((resolve) => {
    let watcher: FSWatcher | undefined;
    const checkSocket = () => {
      if (inodeOf(path) !== ino) resolve('the UAPI socket was removed');
    };
    // The data plane reports a deletion at once (its TUN read fails); this catches it too.
    const checkLink = () => {
      if (link.check()) resolve('the interface was deleted');
    };
    try {
      watcher = watch(UAPI_DIR, (_event, name) => {
        if (name === null || name === `${ifname}.sock`) checkSocket();
      });
      watcher.on('error', () => {});
    } catch {
      // The interval below still notices.
    }
    const timer = setInterval(() => {
      checkSocket();
      checkLink();
    }, WATCH_INTERVAL_MS);
    device.onLinkGone(() => resolve('the interface was deleted'));
    process.off('SIGTERM', onEarly);
    process.off('SIGINT', onEarly);
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (early) resolve(early);
    process.on('SIGHUP', () => {});
    ready?.();
    // Stop watching once a reason came.
    const stop = () => {
      clearInterval(timer);
      watcher?.close();
    };
    device.onClosed(stop);
  });

  log.verbose(`Shutting down: ${reason}`);
  forceExitAfter(STOP_TIMEOUT_MS, 0);
  collector.stop();
  await server.close();
  removeSocket();
  await device.close();
  return 0;
}

/**
 * Ends the process after `ms` even if stopping hangs. process.exit() would wait for worker
 * threads blocked in poll(2), so the last resort is SIGKILL (the socket is removed by then).
 */
function forceExitAfter(ms: number, code: number): void {
  setTimeout(() => {
    process.exitCode = code;
    process.kill(process.pid, 'SIGKILL');
  }, ms);
}
