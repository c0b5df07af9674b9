import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { validIfname } from '../../../src/sys/ifname.js';
import { allocNative, EAGAIN, freeNative, POLLERR, POLLIN, PollSet } from '../../../src/sys/native.js';
import { isLinkGone, TunDevice, tunRead, tunReadBatch, tunWrite } from '../../../src/sys/tun.js';
import { MsgBatch, UdpSocket } from '../../../src/sys/udp.js';
import { udp4 } from '../../lib/packets.js';
import { isRoot, need, run } from '../../lib/run.js';
import { addNetns, deleteNetns, inNetns, ip, nsName } from './netns.js';

const NS = nsName('tun');
/** Where the move test sends its interface. */
const NS2 = nsName('tun2');

before(() => {
  if (isRoot) {
    addNetns(NS);
    addNetns(NS2);
  }
});
after(() => {
  if (isRoot) {
    deleteNetns(NS);
    deleteNetns(NS2);
  }
});

/** The inode of a named namespace (what TunLocation.netns holds). */
const nsInode = (name: string) => statSync(`/var/run/netns/${name}`).ino;

function waitReadable(fd: number, ms: number): number {
  const ps = new PollSet([{ fd, events: POLLIN }]);
  try {
    ps.wait(ms);
    return ps.revents(0);
  } finally {
    ps.free();
  }
}

test('interface names are checked as the kernel does', () => {
  assert.equal(validIfname('wg0'), true);
  assert.equal(validIfname('a'.repeat(15)), true);
  assert.equal(validIfname('a'.repeat(16)), false);
  assert.equal(validIfname(''), false);
  assert.equal(validIfname('a/b'), false);
  assert.equal(validIfname('a b'), false);
  assert.throws(() => TunDevice.open('bad/name'), /Invalid argument/);
});

test('MTU, up/down and ifindex by ioctl match what `ip` reports', (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const tun = inNetns(NS, () => TunDevice.open('dptun0'));
  try {
    tun.mtu = 1380;
    assert.equal(tun.mtu, 1380);
    const link = JSON.parse(ip(NS, '-j', 'link', 'show', 'dptun0'))[0];
    assert.equal(link.mtu, 1380);
    assert.equal(link.ifindex, tun.ifindex);
    assert.ok(!link.flags.includes('UP'));
    tun.up = true;
    assert.equal(tun.up, true);
    assert.ok(JSON.parse(ip(NS, '-j', 'link', 'show', 'dptun0'))[0].flags.includes('UP'));
    tun.up = false;
    assert.ok(!JSON.parse(ip(NS, '-j', 'link', 'show', 'dptun0'))[0].flags.includes('UP'));
    assert.throws(() => {
      tun.mtu = 40;
    }, RangeError);
  } finally {
    tun.close();
  }
  assert.throws(
    () => ip(NS, 'link', 'show', 'dptun0'),
    /does not exist/,
    'closing the last queue deletes it',
  );
});

test('a packet routed into the TUN is read from it, and a packet written to it is delivered', (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const { tun, sock } = inNetns(NS, () => ({
    tun: TunDevice.open('dptun1'),
    sock: UdpSocket.open({ port: 0 }),
  }));
  const mem = allocNative(2048);
  const batch = new MsgBatch(4, 2048, sock.family);
  try {
    tun.mtu = 1420;
    tun.up = true;
    ip(NS, 'addr', 'add', '10.9.0.1/24', 'dev', 'dptun1');
    const fd = tun.queues[0]!;
    // Out through the TUN: a datagram to 10.9.0.2 routes via dptun1.
    const payload = new TextEncoder().encode('through the tunnel');
    mem.bytes.set(payload, 0);
    assert.equal(
      sock.sendTo(
        { family: 4, address: Uint8Array.of(10, 9, 0, 2), port: 9999, scopeId: 0 },
        mem.addr,
        payload.length,
      ),
      payload.length,
    );
    let pkt: Uint8Array | undefined;
    for (let i = 0; i < 20 && !pkt; i++) {
      assert.ok(waitReadable(fd, 1000) & POLLIN, 'TUN readable');
      const n = tunRead(fd, mem.addr, 2048);
      if (n <= 0) continue;
      const p = mem.bytes.slice(0, n);
      if (p[0]! >> 4 === 4 && p[9] === 17 && p[19] === 2) pkt = p; // skip IPv6 router solicitations etc.
    }
    assert.ok(pkt, 'the UDP packet came out of the TUN');
    assert.deepEqual([...pkt.subarray(16, 20)], [10, 9, 0, 2]);
    assert.equal(new DataView(pkt.buffer).getUint16(22), 9999);
    assert.equal(Buffer.from(pkt.subarray(28)).toString(), 'through the tunnel');
    // In through the TUN: a datagram from 10.9.0.2 to our socket's port at 10.9.0.1.
    const back = udp4([10, 9, 0, 2], 7777, [10, 9, 0, 1], sock.port, new TextEncoder().encode('reply'));
    mem.bytes.set(back, 0);
    assert.equal(tunWrite(fd, mem.addr, back.length), back.length);
    let got = -EAGAIN;
    for (let i = 0; i < 100 && got === -EAGAIN; i++) {
      waitReadable(sock.fd, 20);
      got = batch.recv(sock.fd);
    }
    assert.equal(got, 1);
    assert.equal(
      Buffer.from(
        batch.bytes.subarray(batch.slotOffset(0), batch.slotOffset(0) + batch.length(0)),
      ).toString(),
      'reply',
    );
    assert.equal(batch.source(0)!.port, 7777);
    // Batch reads stop at the first empty read.
    const lens = new Int32Array(8);
    while (tunRead(fd, mem.addr, 2048) > 0);
    assert.equal(tunReadBatch(fd, mem.addr, 256, 256, 8, lens), -EAGAIN);
  } finally {
    batch.free();
    freeNative(mem);
    sock.close();
    tun.close();
  }
});

test('multi-queue: each queue is its own fd, and flows spread over them', (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const { tun, sock } = inNetns(NS, () => ({
    tun: TunDevice.open('dptun2', 2),
    sock: UdpSocket.open({ port: 0 }),
  }));
  const mem = allocNative(2048);
  try {
    assert.equal(tun.queues.length, 2);
    tun.up = true;
    ip(NS, 'addr', 'add', '10.9.2.1/24', 'dev', 'dptun2');
    const seen = new Set<number>();
    for (let port = 1000; port < 1064; port++) {
      assert.equal(
        sock.sendTo({ family: 4, address: Uint8Array.of(10, 9, 2, 2), port, scopeId: 0 }, mem.addr, 1),
        1,
      );
    }
    let total = 0;
    for (let round = 0; round < 50 && total < 64; round++) {
      for (const [q, fd] of tun.queues.entries()) {
        for (;;) {
          const n = tunRead(fd, mem.addr, 2048);
          if (n <= 0) break;
          if (mem.bytes[0]! >> 4 === 4 && mem.bytes[9] === 17) {
            total++;
            seen.add(q);
          }
        }
      }
      if (total < 64) waitReadable(tun.queues[0]!, 20);
    }
    assert.equal(total, 64);
    assert.deepEqual([...seen].sort(), [0, 1], '64 flows should use both queues');
  } finally {
    freeNative(mem);
    sock.close();
    tun.close();
  }
});

test('deleting the link makes its queue report POLLERR and EBADFD (link gone)', (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const tun = inNetns(NS, () => TunDevice.open('dptun3'));
  const mem = allocNative(2048);
  try {
    const fd = tun.queues[0]!;
    assert.equal(tunRead(fd, mem.addr, 2048), -EAGAIN);
    assert.equal(isLinkGone(-EAGAIN), false);
    ip(NS, 'link', 'del', 'dptun3');
    assert.ok(waitReadable(fd, 1000) & POLLERR);
    const r = tunRead(fd, mem.addr, 2048);
    assert.equal(isLinkGone(r), true, `read returned ${r}`);
  } finally {
    freeNative(mem);
    tun.close();
  }
});

test('after a move to another namespace and a rename, the device is still found through its fd', (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const tun = inNetns(NS, () => TunDevice.open('dptun4'));
  const mem = allocNative(2048);
  try {
    const fd = tun.queues[0]!;
    assert.deepEqual(tun.location(), { name: 'dptun4', netns: nsInode(NS), moved: false });
    // Another interface takes the name in the birth namespace: it must not be mistaken for ours.
    ip(NS, 'link', 'set', 'dptun4', 'netns', NS2);
    ip(NS, 'link', 'add', 'dptun4', 'type', 'veth', 'peer', 'name', 'dptun4p');
    ip(NS, 'link', 'set', 'dptun4', 'mtu', '1234');
    ip(NS2, 'link', 'set', 'dptun4', 'name', 'dptun4r', 'mtu', '1300');
    assert.deepEqual(tun.location(), { name: 'dptun4r', netns: nsInode(NS2), moved: true });
    assert.equal(tun.mtu, 1300);
    tun.mtu = 9000;
    tun.up = true;
    const link = JSON.parse(ip(NS2, '-j', 'link', 'show', 'dptun4r'))[0];
    assert.equal(link.mtu, 9000);
    assert.ok(link.flags.includes('UP'));
    assert.equal(tun.ifindex, link.ifindex);
    assert.equal(
      JSON.parse(ip(NS, '-j', 'link', 'show', 'dptun4'))[0].mtu,
      1234,
      'the namesake is untouched',
    );
    // The queue still carries packets: a ping that NS2 routes through the interface is read.
    ip(NS2, 'addr', 'add', '10.99.4.1/24', 'dev', 'dptun4r');
    run('ip', ['netns', 'exec', NS2, 'ping', '-c', '1', '-W', '1', '10.99.4.2'], { timeoutMs: 10_000 });
    // Besides the ping, the kernel may have sent IPv6 solicitations when the link came up.
    let seen = false;
    for (let n = tunRead(fd, mem.addr, 2048); n > 0 && !seen; n = tunRead(fd, mem.addr, 2048))
      seen = mem.bytes[0] === 0x45 && mem.bytes.subarray(16, 20).join('.') === '10.99.4.2';
    assert.ok(seen, 'the ping to 10.99.4.2 was read from the moved queue');
    // Back home, then deleted there: EBADFD, wherever the deletion happens.
    ip(NS2, 'link', 'set', 'dptun4r', 'netns', NS);
    assert.equal(tun.location().moved, false);
    ip(NS2, 'link', 'show'); // NS2 still exists: only the interface left it
    ip(NS, 'link', 'set', 'dptun4r', 'netns', NS2);
    assert.equal(tun.location().moved, true);
    ip(NS2, 'link', 'del', 'dptun4r');
    assert.throws(
      () => tun.location(),
      (e: Error & { errno?: number }) => e.errno === 77,
    );
    assert.equal(isLinkGone(tunRead(fd, mem.addr, 2048)), true);
  } finally {
    freeNative(mem);
    tun.close();
    run('ip', ['-n', NS, 'link', 'del', 'dptun4']);
  }
});
