// Linux TUN devices through /dev/net/tun (Documentation/networking/tuntap.rst), with the
// interface's MTU and up/down flag set by ioctl on a control socket, so no `ip` process runs.
//
// A device is opened with IFF_TUN | IFF_NO_PI (bare IP packets, no 4-byte header) and, when
// asked for several queues, IFF_MULTI_QUEUE: each queue is its own fd, and the kernel spreads
// the flows leaving the interface over the queues, so each data-plane thread can own one.
// Queue fds are non-blocking; threads wait for them with poll(2) (native.ts), which is also
// how they are woken for shutdown.
//
// Link deletion: once the interface is deleted (`ip link delete`), the kernel detaches every
// queue; poll then reports POLLERR and read(2) fails with EBADFD. `isLinkGone` recognises
// that, and the data plane reports it (the engine exits, as wireguard-go does:
// RoutineReadFromTUN in device/send.go closes the device when the read fails).

import { check, libc, SysError } from './libc.js';
import {
  allocNative,
  closeFd,
  EBADFD,
  EIO,
  freeNative,
  type NativeBuffer,
  readAt,
  writeAt,
} from './native.js';

const TUN_PATH = '/dev/net/tun';
const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

const TUNSETIFF = 0x400454ca; // _IOW('T', 202, int)
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;

const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCGIFMTU = 0x8921;
const SIOCSIFMTU = 0x8922;
const SIOCGIFINDEX = 0x8933;
const IFF_UP = 0x1;

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

const IFNAMSIZ = 16;
const IFREQ_SIZE = 40; // char ifr_name[16]; then a 24-byte union (flags: short, mtu/ifindex: int)

interface Fns {
  open: (path: string, flags: number) => number;
  ioctl: (fd: number, req: number, arg: number) => number;
  socket: (domain: number, type: number, proto: number) => number;
  nametoindex: (name: string) => number;
}

let fns: Fns | undefined;

function f(): Fns {
  if (!fns) {
    const l = libc();
    fns = {
      open: l.func('int open(const char *path, int flags)'),
      // ioctl is variadic; every request here passes one pointer, which the x86-64 and
      // AArch64 calling conventions pass the same way to a fixed-argument declaration.
      ioctl: l.func('int ioctl(int fd, unsigned long req, uintptr_t arg)'),
      socket: l.func('int socket(int domain, int type, int protocol)'),
      nametoindex: l.func('unsigned int if_nametoindex(const char *name)'),
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

function ifreq(name: string): NativeBuffer {
  if (!validIfname(name)) throw new SysError('ifreq', 22);
  const req = allocNative(IFREQ_SIZE);
  req.bytes.set(Buffer.from(name), 0);
  return req;
}

function ioctl(fd: number, req: number, what: string, arg: number): void {
  check(what, f().ioctl(fd, req, arg));
}

/** An open TUN interface: its name, its queue fds, and a control socket for MTU and flags. */
export class TunDevice {
  readonly name: string;
  readonly queues: number[];
  private ctl: number;

  private constructor(name: string, queues: number[], ctl: number) {
    this.name = name;
    this.queues = queues;
    this.ctl = ctl;
  }

  /**
   * Creates (or attaches to) TUN interface `name` with `queues` queues, in the network
   * namespace of the calling thread. Throws SysError (EBUSY when a non-multi-queue device of
   * that name is already in use, EPERM without CAP_NET_ADMIN).
   */
  static open(name: string, queues = 1): TunDevice {
    if (!(Number.isInteger(queues) && queues >= 1 && queues <= 256))
      throw new RangeError(`bad queue count ${queues}`);
    const fds: number[] = [];
    const req = ifreq(name);
    try {
      const flags = IFF_TUN | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0);
      for (let i = 0; i < queues; i++) {
        const fd = check('open /dev/net/tun', f().open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC));
        fds.push(fd);
        req.view.setInt16(IFNAMSIZ, flags, true);
        ioctl(fd, TUNSETIFF, 'TUNSETIFF', req.addr);
      }
      // The kernel may have completed a name pattern such as "wg%d".
      let end = req.bytes.indexOf(0);
      if (end < 0 || end > IFNAMSIZ) end = IFNAMSIZ;
      const real = Buffer.from(req.bytes.subarray(0, end)).toString();
      const ctl = check('socket', f().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      return new TunDevice(real, fds, ctl);
    } catch (e) {
      for (const fd of fds) closeFd(fd);
      throw e;
    } finally {
      freeNative(req);
    }
  }

  private withReq<T>(fn: (req: NativeBuffer) => T): T {
    const req = ifreq(this.name);
    try {
      return fn(req);
    } finally {
      freeNative(req);
    }
  }

  get mtu(): number {
    return this.withReq((req) => {
      ioctl(this.ctl, SIOCGIFMTU, 'SIOCGIFMTU', req.addr);
      return req.view.getInt32(IFNAMSIZ, true);
    });
  }

  set mtu(mtu: number) {
    if (!(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) throw new RangeError(`bad MTU ${mtu}`);
    this.withReq((req) => {
      req.view.setInt32(IFNAMSIZ, mtu, true);
      ioctl(this.ctl, SIOCSIFMTU, 'SIOCSIFMTU', req.addr);
    });
  }

  get ifindex(): number {
    return this.withReq((req) => {
      ioctl(this.ctl, SIOCGIFINDEX, 'SIOCGIFINDEX', req.addr);
      return req.view.getInt32(IFNAMSIZ, true);
    });
  }

  get up(): boolean {
    return this.withReq((req) => {
      ioctl(this.ctl, SIOCGIFFLAGS, 'SIOCGIFFLAGS', req.addr);
      return (req.view.getInt16(IFNAMSIZ, true) & IFF_UP) !== 0;
    });
  }

  /** Sets or clears IFF_UP, keeping the other flags. */
  set up(up: boolean) {
    this.withReq((req) => {
      ioctl(this.ctl, SIOCGIFFLAGS, 'SIOCGIFFLAGS', req.addr);
      const flags = req.view.getInt16(IFNAMSIZ, true);
      req.view.setInt16(IFNAMSIZ, up ? flags | IFF_UP : flags & ~IFF_UP, true);
      ioctl(this.ctl, SIOCSIFFLAGS, 'SIOCSIFFLAGS', req.addr);
    });
  }

  /** Closes every queue; the kernel deletes a non-persistent interface with its last queue. */
  close(): void {
    for (const fd of this.queues.splice(0)) closeFd(fd);
    if (this.ctl >= 0) closeFd(this.ctl);
    this.ctl = -1;
  }
}

/** Reads one packet from a non-blocking queue: its length, or -errno (-EAGAIN when empty). */
export function tunRead(fd: number, addr: number, max: number): number {
  return readAt(fd, addr, max);
}

/** Writes one IP packet to a queue: its length, or -errno. */
export function tunWrite(fd: number, addr: number, len: number): number {
  return writeAt(fd, addr, len);
}

/**
 * Reads up to `count` packets into consecutive slots (`base + i * slotSize`), stopping at the
 * first empty read. Lengths go to `lens`. Returns how many were read, or -errno when the first
 * read failed with something other than EAGAIN.
 */
export function tunReadBatch(
  fd: number,
  base: number,
  slotSize: number,
  max: number,
  count: number,
  lens: Int32Array,
): number {
  let addr = base;
  let n = 0;
  for (; n < count; n++, addr += slotSize) {
    const r = readAt(fd, addr, max);
    if (r < 0) return n > 0 ? n : r;
    lens[n] = r;
  }
  return n;
}

/** True for the errors a queue returns once its interface was deleted. */
export function isLinkGone(negErrno: number): boolean {
  return negErrno === -EBADFD || negErrno === -EIO;
}

/** The index of interface `name` in the calling thread's namespace; 0 if there is none. */
export function ifNameToIndex(name: string): number {
  return validIfname(name) ? f().nametoindex(name) : 0;
}

/** Whether this process can create TUN devices here (the device node exists and opens). */
export function tunAvailable(): boolean {
  const fd = f().open(TUN_PATH, O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  closeFd(fd);
  return true;
}
