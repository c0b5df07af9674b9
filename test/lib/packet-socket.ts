// A raw AF_PACKET socket bound to one interface, through koffi (test-only): the wire tap of the
// netns tests (wire-tap.ts) and the nlmon capture of the VM tests (test/vm/nlmon.ts) read every
// frame of a link with it. A receive timeout lets the caller look up between frames.
// openPacketRing reads through a TPACKET_V3 ring instead (see there why the nlmon capture does).

import { ifNameToIndex } from '../../src/sys/ifname.js';
import { check, errno, koffi, libc, SysError } from '../../src/sys/libc.js';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL = 3)
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
const EAGAIN = 11;
const EINTR = 4;

export interface PacketSocket {
  /** One frame into `buf`: its length, or -1 when the timeout passed (or a signal came). */
  recv(buf: Uint8Array): number;
  close(): void;
}

export interface PacketSocketOptions {
  /** How long one recv waits. */
  timeoutMs: number;
  /** SO_RCVBUFFORCE in bytes, for captures that must not drop a frame. */
  receiveBuffer?: number;
}

/** Sets a socket option of the socket being configured (throws on failure). */
type SetOption = (level: number, name: number, value: Uint8Array) => void;

/** An AF_PACKET socket bound to `ifname`, set up by `configure` before the bind. */
function rawSocket(ifname: string, configure: (set: SetOption) => void): { fd: number; close(): void } {
  const lib = libc();
  const setsockopt = lib.func('int setsockopt(int, int, int, const void *, uint32_t)') as (
    fd: number,
    l: number,
    n: number,
    v: Uint8Array,
    len: number,
  ) => number;
  const socket = lib.func('int socket(int, int, int)') as (a: number, b: number, c: number) => number;
  const bind = lib.func('int bind(int, const void *, uint32_t)') as (
    fd: number,
    a: Uint8Array,
    l: number,
  ) => number;
  const close = lib.func('int close(int)') as (fd: number) => number;
  const index = ifNameToIndex(ifname);
  if (index === 0) throw new Error(`no interface ${ifname}`);
  const fd = check('socket', socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE));
  try {
    configure((level, name, value) => {
      check('setsockopt', setsockopt(fd, level, name, value, value.length));
    });
    const sll = new Uint8Array(20); // struct sockaddr_ll
    const v = new DataView(sll.buffer);
    v.setUint16(0, AF_PACKET, true);
    v.setUint16(2, ETH_P_ALL_BE, true);
    v.setInt32(4, index, true);
    check('bind', bind(fd, sll, sll.length));
  } catch (e) {
    close(fd);
    throw e;
  }
  return { fd, close: () => void close(fd) };
}

export function openPacketSocket(ifname: string, opts: PacketSocketOptions): PacketSocket {
  const lib = libc();
  const recv = lib.func('intptr_t recv(int, void *, size_t, int)') as (
    fd: number,
    b: Uint8Array,
    l: number,
    f: number,
  ) => number;
  const sock = rawSocket(ifname, (set) => {
    if (opts.receiveBuffer) {
      const size = new Uint8Array(new Int32Array([opts.receiveBuffer]).buffer);
      set(SOL_SOCKET, SO_RCVBUFFORCE, size);
    }
    const tv = new Uint8Array(16);
    const tvv = new DataView(tv.buffer);
    tvv.setBigInt64(0, BigInt(Math.floor(opts.timeoutMs / 1000)), true);
    tvv.setBigInt64(8, BigInt((opts.timeoutMs % 1000) * 1000), true);
    set(SOL_SOCKET, SO_RCVTIMEO, tv);
  });
  return {
    recv(buf) {
      const n = Number(recv(sock.fd, buf, buf.length, 0));
      if (n >= 0) return n;
      const e = errno();
      if (e !== EAGAIN && e !== EINTR) throw new SysError('recv', e);
      return -1;
    },
    close() {
      sock.close();
    },
  };
}

// A capture that must see each frame as it was when sent reads it from a TPACKET_V3 ring
// (Documentation/networking/packet_mmap.rst in the kernel tree): tpacket_rcv() copies the frame
// into the ring while the sender is still in its send call. A plain AF_PACKET socket queues a
// clone that shares the sender's data, read only at recv(): wireguard's netlink handler wipes
// the private and preshared keys of a request in place once applied (memzero_explicit in
// wg_set_device and set_peer, drivers/net/wireguard/netlink.c), so a late recv saw zeros.
// Version 3 packs frames of any size into blocks, so a ring of small requests holds thousands.

const SOL_PACKET = 263;
const PACKET_RX_RING = 5;
const PACKET_STATISTICS = 6;
const PACKET_VERSION = 10;
const TPACKET_V3 = 2;
const TP_STATUS_KERNEL = 0;
const TP_STATUS_USER = 1;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const POLLIN = 1;

export interface PacketRing extends PacketSocket {
  /** Frames the kernel dropped because the ring was full (PACKET_STATISTICS), so far. */
  drops(): number;
}

export interface PacketRingOptions {
  timeoutMs: number;
  /** Bytes per block, a power of two pages; a frame larger than a block is an error. */
  blockSize: number;
  blocks: number;
}

export function openPacketRing(ifname: string, opts: PacketRingOptions): PacketRing {
  const k = koffi();
  const lib = libc();
  const getsockopt = lib.func('int getsockopt(int, int, int, void *, _Inout_ uint32_t *)') as (
    fd: number,
    l: number,
    n: number,
    v: Uint8Array,
    len: number[],
  ) => number;
  const mmap = lib.func('void *mmap(void *, size_t, int, int, int, intptr_t)');
  const munmap = lib.func('int munmap(void *, size_t)');
  const poll = lib.func('int poll(void *, uint64_t, int)') as (p: Uint8Array, n: number, t: number) => number;

  const { blockSize, blocks } = opts;
  const FRAME = 2048; // only sets tp_frame_nr; V3 frames take the room they need
  const sock = rawSocket(ifname, (set) => {
    const int = (n: number) => new Uint8Array(new Int32Array([n]).buffer);
    set(SOL_PACKET, PACKET_VERSION, int(TPACKET_V3));
    // struct tpacket_req3: block size and count, frame size and count, the timeout that hands
    // a partly filled block over (each such block holds only what came in that time, so a
    // short one fills the ring with nearly empty blocks while the reader lags), private area
    // size, features.
    const req = new Uint32Array([blockSize, blocks, FRAME, (blockSize / FRAME) * blocks, 100, 0, 0]);
    set(SOL_PACKET, PACKET_RX_RING, new Uint8Array(req.buffer));
  });
  const size = blockSize * blocks;
  const base = mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, sock.fd, 0);
  if (base === null || k.address(base) === 0xffff_ffff_ffff_ffffn) {
    const e = errno();
    sock.close();
    throw new SysError('mmap', e);
  }
  const ring = new Uint8Array(k.view(base, size));
  const rv = new DataView(ring.buffer);
  const pfd = new Uint8Array(8);
  new DataView(pfd.buffer).setInt32(0, sock.fd, true);
  new DataView(pfd.buffer).setInt16(4, POLLIN, true);
  let block = 0; // the block being read
  let left = 0; // frames of it not yet read
  let at = 0; // offset of the next frame in the ring
  let dropped = 0;

  /** Whether the current block has frames to read; takes it over from the kernel if ready. */
  const ready = (): boolean => {
    if (left > 0) return true;
    const desc = block * blockSize;
    // struct tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1: block_status,
    // num_pkts, offset_to_first_pkt, ...
    if (!(rv.getUint32(desc + 8, true) & TP_STATUS_USER)) return false;
    left = rv.getUint32(desc + 12, true);
    at = desc + rv.getUint32(desc + 16, true);
    if (left > 0) return true;
    release();
    return false;
  };
  const release = () => {
    rv.setUint32(block * blockSize + 8, TP_STATUS_KERNEL, true);
    block = (block + 1) % blocks;
  };

  return {
    recv(buf) {
      if (!ready()) {
        const n = poll(pfd, 1, opts.timeoutMs);
        if (n < 0 && errno() !== EINTR) throw new SysError('poll', errno());
        if (!ready()) return -1;
      }
      // struct tpacket3_hdr: next offset, sec, nsec, snaplen, len, status, mac offset, ...
      const next = rv.getUint32(at, true);
      const snaplen = rv.getUint32(at + 12, true);
      const len = rv.getUint32(at + 16, true);
      const mac = rv.getUint16(at + 24, true);
      if (snaplen < len) throw new Error(`a ${len}-byte frame does not fit a ${blockSize}-byte block`);
      if (len > buf.length) throw new Error(`a ${len}-byte frame does not fit the ${buf.length}-byte buffer`);
      buf.set(ring.subarray(at + mac, at + mac + len));
      at += next;
      if (--left === 0) release();
      return len;
    },
    drops() {
      // struct tpacket_stats_v3: packets, drops, freeze count; reading resets the counters.
      const stats = new Uint8Array(12);
      check('getsockopt', getsockopt(sock.fd, SOL_PACKET, PACKET_STATISTICS, stats, [12]));
      dropped += new DataView(stats.buffer).getUint32(4, true);
      return dropped;
    },
    close() {
      munmap(base, size);
      sock.close();
    },
  };
}
