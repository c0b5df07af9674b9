// Native memory and the few generic calls the data plane's threads block in: read, write,
// close, poll and eventfd. tun.ts, udp.ts and libcrypto.ts build on these.
//
// Why native memory: recvmmsg/sendmmsg take arrays of headers that point at iovecs that point
// at packet buffers. Those pointers must stay valid between calls, which JavaScript buffers do
// not promise (koffi passes them as transient pointers). So each thread allocates one arena
// with malloc (through koffi.alloc), writes the headers into it once, and reads and writes the
// packets through a Uint8Array view of the same bytes: no copy and no allocation per packet.
//
// Addresses are passed to C as plain numbers declared `uintptr_t`, not as koffi's bigint
// pointers: user-space addresses fit in 53 bits on the 64-bit ABIs Linux has (47-48 bits), and
// a number argument costs koffi noticeably less than a bigint (and `addr + off` allocates
// nothing), which matters at several calls per packet.

import { check, koffi, libc } from './libc.js';

/** A malloc'd block with a byte view and a DataView over it. Freed by `freeNative`, once. */
export interface NativeBuffer {
  /** Address of byte 0. */
  readonly addr: number;
  /** koffi's handle, for freeing. */
  readonly handle: unknown;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/**
 * Allocates `size` bytes of stable native memory, zeroed unless `zero` is false (a large
 * arena left as malloc returns it is not backed by RAM until its pages are touched).
 */
export function allocNative(size: number, zero = true): NativeBuffer {
  if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`bad native buffer size ${size}`);
  const k = koffi();
  const handle = k.alloc('uint8_t', size);
  const addr = Number(k.address(handle));
  if (!Number.isSafeInteger(addr)) throw new RangeError('native address beyond 2^53');
  const ab = k.view(handle, size);
  const bytes = new Uint8Array(ab);
  if (zero) bytes.fill(0);
  return { addr, handle, size, bytes, view: new DataView(ab) };
}

/**
 * Zeroes (the first `used` bytes, by default all) and frees a NativeBuffer. Its views must not
 * be touched afterwards.
 */
export function freeNative(b: NativeBuffer, used = b.size): void {
  b.bytes.fill(0, 0, used);
  koffi().free(b.handle);
}

interface Fns {
  read: (fd: number, buf: number, n: number) => number;
  write: (fd: number, buf: number, n: number) => number;
  close: (fd: number) => number;
  poll: (fds: number, n: number, timeout: number) => number;
  eventfd: (initval: number, flags: number) => number;
}

let fns: Fns | undefined;

function f(): Fns {
  if (!fns) {
    const l = libc();
    fns = {
      read: l.func('long read(int fd, uintptr_t buf, size_t n)'),
      write: l.func('long write(int fd, uintptr_t buf, size_t n)'),
      close: l.func('int close(int fd)'),
      poll: l.func('int poll(uintptr_t fds, unsigned long nfds, int timeout)'),
      eventfd: l.func('int eventfd(unsigned int initval, int flags)'),
    } as Fns;
  }
  return fns;
}

export const EAGAIN = 11;
export const EINTR = 4;
export const EIO = 5;
export const EINVAL = 22;
export const EBADF = 9;
export const EBADFD = 77;

/** read(2) into native memory; returns the byte count or -errno (never throws). */
export function readAt(fd: number, addr: number, n: number): number {
  const r = f().read(fd, addr, n);
  return r >= 0 ? r : -koffi().errno();
}

/** write(2) from native memory; returns the byte count or -errno (never throws). */
export function writeAt(fd: number, addr: number, n: number): number {
  const r = f().write(fd, addr, n);
  return r >= 0 ? r : -koffi().errno();
}

export function closeFd(fd: number): void {
  check('close', f().close(fd));
}

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

const POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }

/**
 * A fixed set of descriptors to wait on with poll(2), kept in native memory so a wait is one
 * call with no marshalling. `revents(i)` reads what the last wait reported for entry i.
 */
export class PollSet {
  private readonly mem: NativeBuffer;
  readonly count: number;

  constructor(entries: { fd: number; events: number }[]) {
    this.count = entries.length;
    this.mem = allocNative(POLLFD_SIZE * Math.max(1, entries.length));
    entries.forEach((e, i) => {
      this.mem.view.setInt32(i * POLLFD_SIZE, e.fd, true);
      this.mem.view.setInt16(i * POLLFD_SIZE + 4, e.events, true);
    });
  }

  /** Changes entry `i`'s descriptor. */
  setFd(i: number, fd: number): void {
    this.mem.view.setInt32(i * POLLFD_SIZE, fd, true);
  }

  /** Blocks up to `timeoutMs` (-1 = no limit). Returns the ready count, 0 on timeout or EINTR. */
  wait(timeoutMs: number): number {
    const r = f().poll(this.mem.addr, this.count, timeoutMs);
    if (r >= 0) return r;
    const e = koffi().errno();
    if (e === EINTR) return 0;
    return check('poll', r);
  }

  revents(i: number): number {
    return this.mem.view.getInt16(i * POLLFD_SIZE + 6, true) & 0xffff;
  }

  free(): void {
    freeNative(this.mem);
  }
}

const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

/**
 * An eventfd used to wake threads blocked in poll(2): `wake()` from any thread makes the fd
 * readable for every poller until someone `drain()`s it. The data plane never drains its stop
 * waker, so a single wake stops every worker.
 */
export class Waker {
  readonly fd: number;
  private readonly buf: NativeBuffer;

  constructor(fd?: number) {
    this.fd = fd ?? check('eventfd', f().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    this.buf = allocNative(8);
  }

  wake(): void {
    this.buf.view.setBigUint64(0, 1n, true);
    writeAt(this.fd, this.buf.addr, 8);
  }

  drain(): void {
    readAt(this.fd, this.buf.addr, 8);
  }

  /** Frees this thread's scratch memory; `closeFd` closes the fd itself (owner only). */
  free(): void {
    freeNative(this.buf);
  }
}
