// UDP GSO and GRO against the running kernel (sys/udp-gso.ts): one send of a super-datagram
// over loopback arrives as its datagrams, or, at a UDP_GRO socket, as one with the right
// gso_size; a sendmmsg batch carries a UDP_SEGMENT message per datagram; the kernel's
// refusal (EIO) turns GSO off for the socket without losing a byte; a device without checksum
// offload still delivers valid datagrams; a TUN with USO hands the super-datagram over whole,
// and the splitter cuts it.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Coalescer } from '../../../src/engine/dataplane/gro.js';
import {
  decodeVirtioNetHdr,
  gsoSplit,
  newVirtioNetHdr,
  VIRTIO_NET_HDR_GSO_UDP_L4,
} from '../../../src/engine/dataplane/gso.js';
import { libc } from '../../../src/sys/libc.js';
import {
  allocNative,
  closeFd,
  freeNative,
  type NativeBuffer,
  POLLIN,
  PollSet,
} from '../../../src/sys/native.js';
import { TunDevice, tunRead, tunWrite } from '../../../src/sys/tun.js';
import { IFF_VNET_HDR, openOffloadTun, TUN_F_USO4, tunFeatures } from '../../../src/sys/tun-offload.js';
import { encodeSockaddr, MsgBatch, type RawAddr, UdpSocket } from '../../../src/sys/udp.js';
import {
  decodeUdpGro,
  encodeUdpSegment,
  setUdpGro,
  setUdpSegment,
  UdpGsoSender,
  udpGsoSupported,
} from '../../../src/sys/udp-gso.js';
import { checksumsValid, type Flow, packet, pattern, v4 } from '../../lib/ippkt.js';
import { Lab } from '../../lib/netns.js';
import { isRoot, need } from '../../lib/run.js';
import { inNetns } from './netns.js';

const lab = isRoot ? new Lab('ug') : undefined;
after(() => lab?.cleanup());

const IPPROTO_UDPLITE = 136;

function loopback(family: 4 | 6, port: number): RawAddr {
  const address = family === 4 ? Uint8Array.of(127, 0, 0, 1) : Uint8Array.of(...new Array(15).fill(0), 1);
  return { family, address, port, scopeId: 0 };
}

function put(mem: NativeBuffer, data: Uint8Array, at = 0): void {
  mem.bytes.set(data, at);
}

function waitReadable(fd: number, ms = 2000): void {
  const ps = new PollSet([{ fd, events: POLLIN }]);
  try {
    ps.wait(ms);
  } finally {
    ps.free();
  }
}

/** Every datagram waiting on `sock`: [bytes, gso_size] each. */
function drain(sock: UdpSocket, slot: number): [Uint8Array, number][] {
  const batch = new MsgBatch(64, slot, sock.family);
  const got: [Uint8Array, number][] = [];
  try {
    waitReadable(sock.fd);
    for (;;) {
      const n = batch.recv(sock.fd);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) {
        assert.equal(batch.truncated(i), false);
        const o = batch.slotOffset(i);
        got.push([
          batch.bytes.slice(o, o + batch.length(i)),
          decodeUdpGro(batch.bytes, batch.controlOffset(i), batch.controlLength(i)),
        ]);
      }
    }
  } finally {
    batch.free();
  }
  return got;
}

const avail = (() => {
  const s = UdpSocket.open({ port: 0, family: 4 });
  try {
    return udpGsoSupported(s.fd);
  } finally {
    s.close();
  }
})();

for (const family of [4, 6] as const) {
  test(`UDP_SEGMENT over IPv${family} loopback: one send, eleven datagrams; at a UDP_GRO socket, one with gso_size`, (t) => {
    if (!avail) return t.skip('needs a kernel with UDP_SEGMENT');
    const data = pattern(10 * 1000 + 500, family);
    const mem = allocNative(data.length);
    put(mem, data);
    const tx = UdpSocket.open({ port: 0, family });
    const rx = UdpSocket.open({ port: 0, family });
    const gro = UdpSocket.open({ port: 0, family });
    const sender = new UdpGsoSender(tx.fd, tx.family);
    try {
      assert.equal(sender.gso, true);
      assert.equal(sender.send(loopback(family, rx.port), mem.addr, data.length, 1000), data.length);
      const got = drain(rx, 2048);
      assert.equal(got.length, 11);
      got.forEach(([d, gso], i) => {
        assert.equal(gso, 0);
        assert.deepEqual(d, data.subarray(i * 1000, (i + 1) * 1000));
      });

      assert.equal(setUdpGro(gro.fd, true), true);
      assert.equal(sender.send(loopback(family, gro.port), mem.addr, data.length, 1000), data.length);
      const merged = drain(gro, 65536);
      assert.deepEqual(
        merged.map(([d, g]) => [d.length, g]),
        [[data.length, 1000]],
      );
      assert.deepEqual(merged[0]![0], data);
      assert.equal(sender.gso, true, 'loopback checksums: GSO stays on');
    } finally {
      sender.free();
      freeNative(mem);
      tx.close();
      rx.close();
      gro.close();
    }
  });
}

test('the UDP_SEGMENT socket option segments every send', (t) => {
  if (!avail) return t.skip('needs a kernel with UDP_SEGMENT');
  const tx = UdpSocket.open({ port: 0, family: 4 });
  const rx = UdpSocket.open({ port: 0, family: 4 });
  const data = pattern(2500, 8);
  const mem = allocNative(data.length);
  put(mem, data);
  try {
    setUdpSegment(tx.fd, 1000);
    assert.equal(tx.sendTo(loopback(4, rx.port), mem.addr, data.length), data.length);
    assert.deepEqual(
      drain(rx, 2048).map(([d]) => d.length),
      [1000, 1000, 500],
    );
    setUdpSegment(tx.fd, 0);
    assert.equal(tx.sendTo(loopback(4, rx.port), mem.addr, data.length), data.length);
    assert.deepEqual(
      drain(rx, 4096).map(([d]) => d.length),
      [2500],
    );
    assert.throws(() => setUdpSegment(tx.fd, 70000), RangeError);
  } finally {
    freeNative(mem);
    tx.close();
    rx.close();
  }
});

test('a sendmmsg batch with a UDP_SEGMENT message per datagram', (t) => {
  if (!avail) return t.skip('needs a kernel with UDP_SEGMENT');
  const tx = UdpSocket.open({ port: 0, family: 6 });
  const rx = UdpSocket.open({ port: 0, family: 6 });
  const batch = new MsgBatch(2, 8192, 6);
  try {
    const sizes = [
      [3000, 1200],
      [4000, 1000],
    ];
    sizes.forEach(([len, seg], i) => {
      batch.bytes.set(pattern(len!, 10 + i), batch.slotOffset(i));
      const namelen = encodeSockaddr(loopback(6, rx.port), batch.mem.view, batch.nameOffset(i), 6);
      const clen = encodeUdpSegment(batch.mem.view, batch.controlOffset(i), seg!);
      batch.prepareEncoded(i, namelen, len!, clen);
    });
    assert.equal(batch.send(tx.fd, 0, 2), 2);
    const got = drain(rx, 2048).map(([d]) => d.length);
    assert.deepEqual(got, [1200, 1200, 600, 1000, 1000, 1000, 1000]);
  } finally {
    batch.free();
    tx.close();
    rx.close();
  }
});

test('a refusal (EIO: UDP-Lite, which GSO does not cover) turns GSO off for good; the bytes still go, datagram by datagram', (t) => {
  if (!avail) return t.skip('needs a kernel with UDP_SEGMENT');
  // The kernel refuses UDP_SEGMENT with EIO for UDP-Lite and for routes through IPsec
  // (udp_send_skb); before Linux 6.11 also for devices that cannot checksum, the case
  // wireguard-go meets. UDP-Lite on loopback is the one this host can produce.
  const sock = libc().func('int socket(int, int, int)') as (a: number, b: number, c: number) => number;
  const bind = libc().func('int bind(int, uintptr_t, uint32_t)') as (
    fd: number,
    a: number,
    l: number,
  ) => number;
  const getsockname = libc().func('int getsockname(int, uintptr_t, uintptr_t)') as (
    fd: number,
    a: number,
    l: number,
  ) => number;
  const tx = sock(2, 2 | 0o4000, IPPROTO_UDPLITE);
  const rx = sock(2, 2 | 0o4000, IPPROTO_UDPLITE);
  if (tx < 0 || rx < 0) {
    for (const fd of [tx, rx]) if (fd >= 0) closeFd(fd);
    return t.skip('needs UDP-Lite');
  }
  const data = pattern(5 * 1000 + 1, 3);
  const mem = allocNative(65536);
  put(mem, data);
  const sender = new UdpGsoSender(tx, 4);
  const batch = new MsgBatch(16, 2048, 4);
  try {
    const len = encodeSockaddr(loopback(4, 0), mem.view, 60000, 4);
    assert.equal(bind(rx, mem.addr + 60000, len), 0, 'bind');
    mem.view.setUint32(60100, 64, true);
    assert.equal(getsockname(rx, mem.addr + 60000, mem.addr + 60100), 0, 'getsockname');
    const addr = loopback(4, mem.view.getUint16(60002, false));
    assert.equal(sender.send(addr, mem.addr, data.length, 1000), data.length);
    assert.equal(sender.gso, false);
    assert.equal(sender.refusedBy, 5);
    assert.equal(sender.send(addr, mem.addr, data.length, 1000), data.length, 'later sends go without GSO');
    waitReadable(rx);
    const lens: number[] = [];
    for (;;) {
      const n = batch.recv(rx);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) lens.push(batch.length(i));
    }
    assert.deepEqual(lens, [1000, 1000, 1000, 1000, 1000, 1, 1000, 1000, 1000, 1000, 1000, 1]);
  } finally {
    batch.free();
    sender.free();
    freeNative(mem);
    closeFd(tx);
    closeFd(rx);
  }
});

test('through a device without checksum offload (a plain TUN) every datagram arrives valid', (t) => {
  if (!need(t, { root: true, commands: ['ip'] }) || !lab) return;
  if (!avail) return t.skip('needs a kernel with UDP_SEGMENT');
  const ns = lab.netns('e');
  const name = lab.ifname('t');
  const { tun, sock } = inNetns(ns, () => ({
    tun: TunDevice.open(name),
    sock: UdpSocket.open({ port: 0, family: 4 }),
  }));
  const data = pattern(5 * 1000, 3);
  const mem = allocNative(65536 + 16);
  put(mem, data);
  const sender = new UdpGsoSender(sock.fd, sock.family);
  try {
    tun.mtu = 1420;
    tun.up = true;
    lab.ip(ns, 'addr', 'add', '10.8.0.1/24', 'dev', name);
    const to: RawAddr = { family: 4, address: Uint8Array.of(10, 8, 0, 2), port: 9999, scopeId: 0 };
    // Linux 6.11 and later segment in software here; older kernels refuse with EIO and the
    // sender falls back. Either way the same datagrams come out.
    assert.equal(sender.send(to, mem.addr, data.length, 1000), data.length);
    t.diagnostic(sender.gso ? 'the kernel segmented in software' : `GSO refused (errno ${sender.refusedBy})`);
    const got: Uint8Array[] = [];
    waitReadable(tun.queues[0]!);
    for (;;) {
      const r = tunRead(tun.queues[0]!, mem.addr, 65536);
      if (r < 0) break;
      if (mem.bytes[9] === 17) got.push(mem.bytes.slice(0, r));
    }
    assert.equal(got.length, 5);
    got.forEach((p, i) => {
      assert.ok(checksumsValid(p), `datagram ${i}`);
      assert.deepEqual(p.subarray(28), data.subarray(i * 1000, (i + 1) * 1000));
    });
  } finally {
    sender.free();
    freeNative(mem);
    sock.close();
    tun.close();
  }
});

test('a TUN with USO receives the super-datagram whole, and the splitter cuts it into valid datagrams', (t) => {
  if (!need(t, { root: true, commands: ['ip'] }) || !lab) return;
  if (!avail) return t.skip('needs a kernel with UDP_SEGMENT');
  if ((tunFeatures() & IFF_VNET_HDR) === 0) return t.skip('needs a TUN driver with IFF_VNET_HDR');
  const ns = lab.netns('u');
  const name = lab.ifname('t');
  const { tun, state, sock } = inNetns(ns, () => ({
    ...openOffloadTun(name),
    sock: UdpSocket.open({ port: 0, family: 4 }),
  }));
  const data = pattern(7 * 1200 + 33, 4);
  const mem = allocNative(65536 + 16);
  put(mem, data);
  const sender = new UdpGsoSender(sock.fd, sock.family);
  try {
    if ((state.offloads & TUN_F_USO4) === 0) return t.skip('needs a kernel with TUN USO');
    tun.mtu = 1420;
    tun.up = true;
    lab.ip(ns, 'addr', 'add', '10.8.1.1/24', 'dev', name);
    const to: RawAddr = { family: 4, address: Uint8Array.of(10, 8, 1, 2), port: 9999, scopeId: 0 };
    assert.equal(sender.send(to, mem.addr, data.length, 1200), data.length);
    assert.equal(sender.gso, true);
    waitReadable(tun.queues[0]!);
    const h = newVirtioNetHdr();
    let found = false;
    for (;;) {
      const r = tunRead(tun.queues[0]!, mem.addr, 65536);
      if (r < 0) break;
      decodeVirtioNetHdr(mem.bytes, 0, h);
      if (mem.bytes[10 + 9] !== 17) continue;
      assert.equal(h.gsoType, VIRTIO_NET_HDR_GSO_UDP_L4);
      assert.equal(h.gsoSize, 1200);
      const out = {
        bytes: new Uint8Array(16 * 2048),
        base: 0,
        stride: 2048,
        count: 16,
        lens: new Int32Array(16),
      };
      const n = gsoSplit(mem.bytes, 10, r - 10, h, out);
      assert.equal(n, 8);
      for (let i = 0; i < n; i++) {
        const s = out.bytes.subarray(i * 2048, i * 2048 + out.lens[i]!);
        assert.ok(checksumsValid(s), `datagram ${i}`);
        assert.deepEqual(s.subarray(28), data.subarray(i * 1200, (i + 1) * 1200));
      }
      found = true;
    }
    assert.ok(found, 'the super-datagram came out of the TUN');
  } finally {
    sender.free();
    freeNative(mem);
    sock.close();
    tun.close();
  }
});

test('datagrams merged by the coalescer and written into a TUN with USO reach a local socket one by one', (t) => {
  if (!need(t, { root: true, commands: ['ip'] }) || !lab) return;
  if ((tunFeatures() & IFF_VNET_HDR) === 0) return t.skip('needs a TUN driver with IFF_VNET_HDR');
  const ns = lab.netns('w');
  const name = lab.ifname('t');
  const { tun, state, sock } = inNetns(ns, () => ({
    ...openOffloadTun(name),
    sock: UdpSocket.open({ port: 0, family: 4 }),
  }));
  const co = new Coalescer(16, { udp: true });
  const mem = allocNative(65536);
  try {
    if ((state.offloads & TUN_F_USO4) === 0) return t.skip('needs a kernel with TUN USO');
    tun.mtu = 1420;
    tun.up = true;
    lab.ip(ns, 'addr', 'add', '10.8.2.1/24', 'dev', name);
    const f: Flow = {
      v: 4,
      src: v4('10.8.2.2'),
      dst: v4('10.8.2.1'),
      proto: 'udp',
      sport: 4000,
      dport: sock.port,
    };
    const sizes = [1300, 1300, 1300, 1300, 77];
    const pkts = sizes.map((n, i) => packet(f, { id: 100 + i, payload: pattern(n, 20 + i) }));
    const src = new Uint8Array(16 * 2048);
    pkts.forEach((p, i) => {
      src.set(p, i * 2048);
    });
    const n = co.coalesce(
      src,
      pkts.map((_, i) => i * 2048),
      pkts.map((p) => p.length),
      pkts.length,
      mem.bytes,
      0,
    );
    assert.equal(n, 1, 'one super-packet');
    assert.equal(mem.bytes[1], VIRTIO_NET_HDR_GSO_UDP_L4);
    assert.equal(tunWrite(tun.queues[0]!, mem.addr + co.outOffs[0]!, co.outLens[0]!), co.outLens[0]);
    const got = drain(sock, 2048);
    assert.deepEqual(
      got.map(([d]) => d.length),
      sizes,
    );
    got.forEach(([d], i) => {
      assert.deepEqual(d, pattern(sizes[i]!, 20 + i));
    });
  } finally {
    freeNative(mem);
    sock.close();
    tun.close();
  }
});
