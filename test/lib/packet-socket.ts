// A raw AF_PACKET socket bound to one interface, through koffi (test-only): the wire tap of the
// netns tests (wire-tap.ts) and the nlmon capture of the VM tests (test/vm/nlmon.ts) read every
// frame of a link with it. A receive timeout lets the caller look up between frames.

import { ifNameToIndex } from '../../src/sys/ifname.js';
import { check, errno, libc, SysError } from '../../src/sys/libc.js';

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

export function openPacketSocket(ifname: string, opts: PacketSocketOptions): PacketSocket {
  const lib = libc();
  const socket = lib.func('int socket(int, int, int)') as (a: number, b: number, c: number) => number;
  const bind = lib.func('int bind(int, const void *, uint32_t)') as (
    fd: number,
    a: Uint8Array,
    l: number,
  ) => number;
  const setsockopt = lib.func('int setsockopt(int, int, int, const void *, uint32_t)') as (
    fd: number,
    l: number,
    n: number,
    v: Uint8Array,
    len: number,
  ) => number;
  const recv = lib.func('intptr_t recv(int, void *, size_t, int)') as (
    fd: number,
    b: Uint8Array,
    l: number,
    f: number,
  ) => number;
  const close = lib.func('int close(int)') as (fd: number) => number;

  const index = ifNameToIndex(ifname);
  if (index === 0) throw new Error(`no interface ${ifname}`);
  const fd = check('socket', socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE));
  try {
    const sll = new Uint8Array(20); // struct sockaddr_ll
    const v = new DataView(sll.buffer);
    v.setUint16(0, AF_PACKET, true);
    v.setUint16(2, ETH_P_ALL_BE, true);
    v.setInt32(4, index, true);
    check('bind', bind(fd, sll, sll.length));
    if (opts.receiveBuffer) {
      const size = new Uint8Array(new Int32Array([opts.receiveBuffer]).buffer);
      check('setsockopt', setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4));
    }
    const tv = new Uint8Array(16);
    const tvv = new DataView(tv.buffer);
    tvv.setBigInt64(0, BigInt(Math.floor(opts.timeoutMs / 1000)), true);
    tvv.setBigInt64(8, BigInt((opts.timeoutMs % 1000) * 1000), true);
    check('setsockopt', setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16));
  } catch (e) {
    close(fd);
    throw e;
  }
  return {
    recv(buf) {
      const n = Number(recv(fd, buf, buf.length, 0));
      if (n >= 0) return n;
      const e = errno();
      if (e !== EAGAIN && e !== EINTR) throw new SysError('recv', e);
      return -1;
    },
    close() {
      close(fd);
    },
  };
}
