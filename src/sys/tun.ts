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
// that, and the data plane reports it (the engine exits, as wireguard-go does when its TUN
// read fails: tun/tun_linux.go, NativeTun.Read, and device.RoutineReadFromTUN).
//
// Moving to another namespace (`ip link set IF netns NS`) does not detach the queues: the fds
// keep carrying packets, but the interface's name and index are no longer valid in the
// namespace the engine runs in (and the name may even belong to another interface there). So
// the MTU, flags and index are read and set through the fds, never by the birth name alone:
// TUNGETIFF on a queue fd gives the interface's current name (as wireguard-go's
// NativeTun.nameSlow does), TUNGETDEVNETNS (Linux 5.2, drivers/net/tun.c) an fd for the
// namespace the device is in now, and the control socket used for SIOC[GS]IF* is created in
// that namespace (setns(2) of the calling thread, and back). `location()` reports where the
// interface is; it throws EBADFD once the device is gone, wherever it was deleted.

import { fstatSync } from 'node:fs';
import { validIfname } from './ifname.js';
import { check, errno, libc, SysError } from './libc.js';
import {
  allocNative,
  closeFd,
  EBADF,
  EBADFD,
  EIO,
  freeNative,
  type NativeBuffer,
  readAt,
  writeAt,
} from './native.js';
import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM } from './sockaddr.js';

export const TUN_PATH = '/dev/net/tun';
export const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

const TUNSETIFF = 0x400454ca; // _IOW('T', 202, int)
const TUNGETIFF = 0x800454d2; // _IOR('T', 210, unsigned int)
const TUNGETDEVNETNS = 0x54e3; // _IO('T', 227)
const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
/** The calling thread's own network namespace (setns(2) acts on one thread). */
const THREAD_NETNS = '/proc/thread-self/ns/net';
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;

const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCGIFMTU = 0x8921;
const SIOCSIFMTU = 0x8922;
const SIOCGIFINDEX = 0x8933;
const IFF_UP = 0x1;

const IFNAMSIZ = 16;
const IFREQ_SIZE = 40; // char ifr_name[16]; then a 24-byte union (flags: short, mtu/ifindex: int)

interface Fns {
  open: (path: string, flags: number) => number;
  ioctl: (fd: number, req: number, arg: number) => number;
  socket: (domain: number, type: number, proto: number) => number;
  setns: (fd: number, nstype: number) => number;
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
      setns: l.func('int setns(int fd, int nstype)'),
    } as Fns;
  }
  return fns;
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

/** The interface name an ifreq holds (NUL-terminated, at most IFNAMSIZ bytes). */
function nameIn(req: NativeBuffer): string {
  let end = req.bytes.indexOf(0);
  if (end < 0 || end > IFNAMSIZ) end = IFNAMSIZ;
  return Buffer.from(req.bytes.subarray(0, end)).toString();
}

/** The inode of the calling thread's network namespace; 0 when /proc cannot say. */
function threadNetns(): number {
  const fd = f().open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  try {
    return fstatSync(fd).ino;
  } finally {
    closeFd(fd);
  }
}

/**
 * A datagram socket in the network namespace `ns` (an fd for it): the calling thread enters
 * `ns`, creates the socket and returns to its own namespace (a socket stays in the namespace
 * it was created in). Needs CAP_SYS_ADMIN, which a root daemon has.
 */
function socketIn(ns: number): number {
  const own = check(`open ${THREAD_NETNS}`, f().open(THREAD_NETNS, O_RDONLY | O_CLOEXEC));
  try {
    check('setns', f().setns(ns, CLONE_NEWNET));
    const sock = f().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const e = sock < 0 ? errno() : 0;
    if (f().setns(own, CLONE_NEWNET) !== 0) {
      // This thread would open its next sockets (the UDP port) in the wrong namespace.
      throw new Error(`setns back to ${THREAD_NETNS} failed: ${new SysError('setns', errno()).message}`);
    }
    if (sock < 0) throw new SysError('socket', e);
    return sock;
  } finally {
    closeFd(own);
  }
}

/** Where a TUN interface is now (TunDevice.location). */
export interface TunLocation {
  /** Its current name (someone may have renamed it). */
  name: string;
  /** The inode of its network namespace (as /proc/PID/ns/net shows it), when the kernel says. */
  netns: number | undefined;
  /** Whether that namespace is another than the one the interface was created in. */
  moved: boolean;
}

/**
 * An open TUN interface: its queue fds, and a control socket for MTU and flags that follows
 * the interface into whichever namespace it is in.
 */
export class TunDevice {
  /** The name the interface was created with (`location().name` is the current one). */
  readonly name: string;
  readonly queues: number[];
  /** The inode of the namespace the interface was created in (0 if /proc did not say). */
  private readonly birthNs: number;
  private ctl: number;
  /** The inode of the namespace `ctl` belongs to. */
  private ctlNs: number;

  private constructor(name: string, queues: number[], ctl: number, birthNs: number) {
    this.name = name;
    this.queues = queues;
    this.ctl = ctl;
    this.birthNs = birthNs;
    this.ctlNs = birthNs;
  }

  /**
   * Creates (or attaches to) TUN interface `name` with `queues` queues, in the network
   * namespace of the calling thread. Throws SysError (EBUSY when a non-multi-queue device of
   * that name is already in use, EPERM without CAP_NET_ADMIN). `extraFlags` are added to the
   * TUNSETIFF flags (IFF_VNET_HDR: tun-offload.ts).
   */
  static open(name: string, queues = 1, extraFlags = 0): TunDevice {
    if (!(Number.isInteger(queues) && queues >= 1 && queues <= 256))
      throw new RangeError(`bad queue count ${queues}`);
    const fds: number[] = [];
    const req = ifreq(name);
    try {
      const flags = IFF_TUN | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0) | extraFlags;
      for (let i = 0; i < queues; i++) {
        const fd = check('open /dev/net/tun', f().open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC));
        fds.push(fd);
        req.view.setInt16(IFNAMSIZ, flags, true);
        ioctl(fd, TUNSETIFF, 'TUNSETIFF', req.addr);
      }
      // The kernel may have completed a name pattern such as "wg%d".
      const real = nameIn(req);
      const ctl = check('socket', f().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      return new TunDevice(real, fds, ctl, threadNetns());
    } catch (e) {
      for (const fd of fds) closeFd(fd);
      throw e;
    } finally {
      freeNative(req);
    }
  }

  /**
   * Where the interface is now, asked through its first queue fd, so it holds after a rename
   * or a move to another namespace. Throws SysError EBADFD once the interface was deleted
   * (in whatever namespace). Also points the control socket at the interface's namespace.
   */
  location(): TunLocation {
    const fd = this.queues[0];
    if (fd === undefined) throw new SysError('TUNGETIFF', EBADF);
    const req = allocNative(IFREQ_SIZE);
    let name: string;
    try {
      ioctl(fd, TUNGETIFF, 'TUNGETIFF', req.addr);
      name = nameIn(req);
    } finally {
      freeNative(req);
    }
    // Before Linux 5.2 (EINVAL), or without CAP_NET_ADMIN over the device's namespace (EPERM),
    // the namespace is unknown: act as if the interface had stayed.
    const ns = f().ioctl(fd, TUNGETDEVNETNS, 0);
    if (ns < 0 || this.birthNs === 0) {
      if (ns >= 0) closeFd(ns);
      return { name, netns: undefined, moved: false };
    }
    try {
      const ino = fstatSync(ns).ino;
      if (ino !== this.ctlNs) {
        const ctl = socketIn(ns);
        closeFd(this.ctl);
        this.ctl = ctl;
        this.ctlNs = ino;
      }
      return { name, netns: ino, moved: ino !== this.birthNs };
    } finally {
      closeFd(ns);
    }
  }

  /** Runs an SIOC[GS]IF* request on the interface where it is now, under its current name. */
  private withReq<T>(fn: (req: NativeBuffer) => T): T {
    const req = ifreq(this.location().name);
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
