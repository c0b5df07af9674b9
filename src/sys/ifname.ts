// Interface names and indices in the calling thread's namespace: if_nametoindex(3) and
// if_indextoname(3) through libc, with names checked first as the kernel checks them
// (net/core/dev.c, dev_valid_name), so a name the kernel could never hold is not looked up.
// config/ has sysfs twins of these (config/resolve.ts), since config/ may not call libc.

import { libc } from './libc.js';

const IFNAMSIZ = 16;

interface Fns {
  nametoindex: (name: string) => number;
  indextoname: (index: number, buf: Uint8Array) => unknown;
}

let fns: Fns | undefined;

function f(): Fns {
  if (!fns) {
    const l = libc();
    fns = {
      nametoindex: l.func('unsigned int if_nametoindex(const char *name)'),
      indextoname: l.func('void *if_indextoname(unsigned int index, void *buf)'),
    } as Fns;
  }
  return fns;
}

/** Checks a Linux interface name as the kernel does (dev_valid_name). */
export function validIfname(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ) return false;
  if (name === '.' || name === '..') return false;
  return !/[/:\s]/.test(name);
}

/** The index of interface `name`; 0 when there is none (or the name is not a valid one). */
export function ifNameToIndex(name: string): number {
  return validIfname(name) ? f().nametoindex(name) >>> 0 : 0;
}

/** The name of the interface with index `index`; undefined when there is none. */
export function ifIndexToName(index: number): string | undefined {
  const buf = new Uint8Array(IFNAMSIZ);
  if (f().indextoname(index >>> 0, buf) === null) return undefined;
  const nul = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, nul < 0 ? buf.length : nul));
}
