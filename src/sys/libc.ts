// The one place that loads libc through koffi. Each system area declares its own functions in
// its own file of src/sys (netlink.ts, tun.ts, udp.ts, ...) on top of `libc()` and `check()`.
//
// koffi is loaded lazily: commands that never touch a socket (genkey, strip) do not pay for it.

import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');

let koffiMod: Koffi | undefined;
let libcLib: ReturnType<Koffi['load']> | undefined;

export function koffi(): Koffi {
  if (!koffiMod) koffiMod = createRequire(import.meta.url)('koffi') as Koffi;
  return koffiMod;
}

export function libc(): ReturnType<Koffi['load']> {
  if (!libcLib) libcLib = koffi().load('libc.so.6');
  return libcLib;
}

/** A failed system call, carrying the positive errno and the call's name. */
export class SysError extends Error {
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number) {
    super(`${syscall}: ${strerror(errno)}`);
    this.name = 'SysError';
    this.syscall = syscall;
    this.errno = errno;
  }
}

let strerrorFn: ((n: number) => string) | undefined;

/** glibc's strerror text, exactly as wg prints it. */
export function strerror(errno: number): string {
  if (!strerrorFn) strerrorFn = libc().func('const char *strerror(int errnum)') as (n: number) => string;
  return strerrorFn(errno);
}

/** The calling thread's errno after a failed call. */
export function errno(): number {
  return koffi().errno();
}

/** Throws SysError when a libc call returned -1; returns the result otherwise. */
export function check<T extends number | bigint>(syscall: string, result: T): T {
  if (Number(result) === -1) throw new SysError(syscall, errno());
  return result;
}

let trimFn: ((pad: number) => number) | null | undefined;

/**
 * Gives the C heap's free pages back to the kernel, in every arena (glibc's malloc_trim(3) with
 * no padding): after a large change, V8's and Node's freed native memory (parser and compiler
 * zones, buffers) otherwise stays resident in the arenas. False where the C library has no
 * malloc_trim (musl) or nothing was released.
 */
export function mallocTrim(): boolean {
  if (trimFn === undefined) {
    try {
      trimFn = libc().func('int malloc_trim(size_t pad)') as (pad: number) => number;
    } catch {
      trimFn = null;
    }
  }
  return trimFn ? trimFn(0) === 1 : false;
}
