// TUN offloads (Documentation/networking/tuntap.rst; include/uapi/linux/if_tun.h): a TUN
// opened with IFF_VNET_HDR prefixes every packet read or written with a 10-byte
// virtio_net_hdr (engine/dataplane/gso.ts decodes it), and TUNSETOFFLOAD tells the kernel
// which packets the reader copes with:
//   TUN_F_CSUM        packets whose transport checksum is left to the reader (NEEDS_CSUM)
//   TUN_F_TSO4 / TSO6 TCP super-packets of up to 64 KiB, to be split by the reader
//   TUN_F_USO4 / USO6 UDP super-packets (Linux 6.2 and later; the kernel takes both or neither)
// The kernel in turn accepts super-packets written with a header (the coalescer's output).
//
// `openOffloadTun` probes what the running kernel accepts, from everything down to nothing,
// and says what it refused, so the caller can log the fallback once. TUNSETOFFLOAD sets the
// device's features (any queue's fd does), IFF_VNET_HDR and the header size are the device's
// too. Without IFF_VNET_HDR (a kernel that does not offer it) the TUN is a plain one.

import { check, errno, libc, SysError } from './libc.js';
import { allocNative, closeFd, EINVAL, freeNative } from './native.js';
import { O_CLOEXEC, O_RDWR, TUN_PATH, TunDevice } from './tun.js';

const TUNGETFEATURES = 0x800454cf; // _IOR('T', 207, unsigned int)
const TUNSETOFFLOAD = 0x400454d0; // _IOW('T', 208, unsigned int), the flags passed by value
const TUNGETVNETHDRSZ = 0x800454d7; // _IOR('T', 215, int)
const TUNSETVNETHDRSZ = 0x400454d8; // _IOW('T', 216, int)

export const IFF_VNET_HDR = 0x4000;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
/** sizeof(struct virtio_net_hdr): no num_buffers field, which only mergeable-buffer devices use. */
export const TUN_VNET_HDR_LEN = 10;

export const TUN_OFFLOADS_ALL =
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6;

const NAMES: [number, string][] = [
  [TUN_F_CSUM, 'csum'],
  [TUN_F_TSO4, 'tso4'],
  [TUN_F_TSO6, 'tso6'],
  [TUN_F_TSO_ECN, 'tso-ecn'],
  [TUN_F_USO4, 'uso4'],
  [TUN_F_USO6, 'uso6'],
];

/** Names of the TUN_F_* bits in `flags`, e.g. ['csum', 'tso4']. */
export function offloadNames(flags: number): string[] {
  return NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
}

interface Fns {
  open: (path: string, flags: number) => number;
  ioctl: (fd: number, req: number, arg: number) => number;
}

let fns: Fns | undefined;

function f(): Fns {
  fns ??= {
    open: libc().func('int open(const char *path, int flags)'),
    // Variadic in C; one integer or pointer argument is passed alike on x86-64 and AArch64.
    ioctl: libc().func('int ioctl(int fd, unsigned long req, uintptr_t arg)'),
  } as Fns;
  return fns;
}

/** The IFF_* flags this kernel's TUN driver supports (TUNGETFEATURES), or 0 without /dev/net/tun. */
export function tunFeatures(): number {
  const fd = f().open(TUN_PATH, O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  const buf = allocNative(4);
  try {
    return f().ioctl(fd, TUNGETFEATURES, buf.addr) < 0 ? 0 : buf.view.getUint32(0, true);
  } finally {
    freeNative(buf);
    closeFd(fd);
  }
}

/** What `openOffloadTun` / `enableTunOffloads` got. */
export interface TunOffloadState {
  /** Packets carry a virtio_net_hdr (IFF_VNET_HDR). */
  vnetHdr: boolean;
  /** The TUN_F_* flags in force. */
  offloads: number;
  /** The flags asked for that the kernel refused (empty: all granted). */
  refused: number;
}

/**
 * Sets the header size to 10 and enables as many of `want` (TUN_F_*) as the kernel accepts
 * on a TUN opened with IFF_VNET_HDR: all of them, else checksum and TSO (with ECN, then
 * without), else checksum only, else none (each refusal is EINVAL). Other errors throw
 * SysError.
 */
export function enableTunOffloads(fd: number, want = TUN_OFFLOADS_ALL): TunOffloadState {
  const buf = allocNative(4);
  try {
    buf.view.setInt32(0, TUN_VNET_HDR_LEN, true);
    check('TUNSETVNETHDRSZ', f().ioctl(fd, TUNSETVNETHDRSZ, buf.addr));
    check('TUNGETVNETHDRSZ', f().ioctl(fd, TUNGETVNETHDRSZ, buf.addr));
    if (buf.view.getInt32(0, true) !== TUN_VNET_HDR_LEN) throw new SysError('TUNSETVNETHDRSZ', EINVAL);
  } finally {
    freeNative(buf);
  }
  // TSO needs the checksum offload (the kernel ignores it otherwise), and so does USO. A kernel
  // refuses the whole set for one flag it does not know (tun_set_offload: EINVAL), so the
  // ladder goes from all of `want` to what kernels have had longer: TSO (2.6.27), then
  // checksum only, then nothing.
  const base = want & TUN_F_CSUM ? want : 0;
  const tries = [
    base,
    base & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN),
    base & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6),
    base & TUN_F_CSUM,
    0,
  ];
  const tried = new Set<number>();
  for (const flags of tries) {
    if (tried.has(flags)) continue;
    tried.add(flags);
    if (f().ioctl(fd, TUNSETOFFLOAD, flags) === 0)
      return { vnetHdr: true, offloads: flags, refused: want & ~flags };
    const e = errno();
    if (e !== EINVAL) throw new SysError('TUNSETOFFLOAD', e);
  }
  throw new SysError('TUNSETOFFLOAD', EINVAL);
}

/**
 * Opens TUN interface `name` (TunDevice.open) with IFF_VNET_HDR when the kernel offers it,
 * and enables the offloads of `want` it accepts. A kernel without IFF_VNET_HDR gives a plain
 * TUN (vnetHdr false: packets without a header), never an error of its own.
 */
export function openOffloadTun(
  name: string,
  queues = 1,
  want = TUN_OFFLOADS_ALL,
): { tun: TunDevice; state: TunOffloadState } {
  if ((tunFeatures() & IFF_VNET_HDR) === 0 || want === 0)
    return { tun: TunDevice.open(name, queues), state: { vnetHdr: false, offloads: 0, refused: want } };
  const tun = TunDevice.open(name, queues, IFF_VNET_HDR);
  try {
    return { tun, state: enableTunOffloads(tun.queues[0]!, want) };
  } catch (e) {
    tun.close();
    throw e;
  }
}
