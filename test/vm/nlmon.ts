// Captures netlink traffic inside the test VM from an nlmon device (drivers/net/nlmon.c): every
// netlink message any process sends or receives is seen on it as one packet. The tests use it
// to record exactly what stock wg sends to the kernel and compare wgm's encoder with it.
// Test-only: an AF_PACKET socket through koffi, polling for a stop file between packets.

import { existsSync, writeFileSync } from 'node:fs';
import { check, errno, libc, SysError } from '../../src/sys/libc.js';
import { ifNameToIndex } from '../../src/sys/netlink.js';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL = 3)
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
const EAGAIN = 11;
const EINTR = 4;

/**
 * Records packets from `ifname` as hex lines into `out` until `stopFile` exists (or `maxMs`
 * passes). Writes `readyFile` once the socket is bound, so a script can start its commands.
 */
export function captureNlmon(
  ifname: string,
  out: string,
  readyFile: string,
  stopFile: string,
  maxMs = 600_000,
) {
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
  const lines: string[] = [];
  try {
    const sll = new Uint8Array(20); // struct sockaddr_ll
    const v = new DataView(sll.buffer);
    v.setUint16(0, AF_PACKET, true);
    v.setUint16(2, ETH_P_ALL_BE, true);
    v.setInt32(4, index, true);
    check('bind', bind(fd, sll, sll.length));
    const big = new Uint8Array(new Int32Array([256 * 1024 * 1024]).buffer);
    check('setsockopt', setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, big, 4));
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setBigInt64(8, 200_000n, true); // 200 ms
    check('setsockopt', setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16));
    writeFileSync(readyFile, '');
    const buf = new Uint8Array(1 << 17);
    const start = Date.now();
    while (Date.now() - start < maxMs) {
      const n = Number(recv(fd, buf, buf.length, 0));
      if (n >= 0) {
        lines.push(Buffer.from(buf.subarray(0, n)).toString('hex'));
        continue;
      }
      const e = errno();
      if (e !== EAGAIN && e !== EINTR) throw new SysError('recv', e);
      // Stop only once the queue is drained: a receive timeout after the stop file appeared.
      if (existsSync(stopFile)) break;
    }
  } finally {
    close(fd);
    writeFileSync(out, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  }
  return lines.length;
}
