// Sticky source addresses at the socket level: the local address each datagram arrived at
// (IP_PKTINFO / IPV6_PKTINFO on receive), datagrams sent from a chosen local address (one
// sendmsg or a sendmmsg batch), and what the kernel says when that address is gone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EAGAIN } from '../../../src/sys/native.js';
import {
  decodePktinfo,
  encodePktinfo,
  type LocalAddr,
  PKTINFO4_SPACE,
  PKTINFO6_SPACE,
  sourceRejected,
} from '../../../src/sys/pktinfo.js';
import { MsgBatch, type RawAddr, UdpSocket } from '../../../src/sys/udp.js';
import { need } from '../../lib/run.js';
import { addNetns, deleteNetns, inNetns, ip, nsName } from './netns.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
const v6 = (s: string): Uint8Array => {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const words = (p: string | undefined) => (p ? p.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return Uint8Array.from(all.flatMap((w) => [w >> 8, w & 0xff]));
};
const to4 = (a: string, port: number): RawAddr => ({ family: 4, address: v4(a), port, scopeId: 0 });
const to6 = (a: string, port: number): RawAddr => ({ family: 6, address: v6(a), port, scopeId: 0 });
const local4 = (a: string, ifindex = 0): LocalAddr => ({ family: 4, address: v4(a), ifindex });
const local6 = (a: string, ifindex = 0): LocalAddr => ({ family: 6, address: v6(a), ifindex });

/** Receives one datagram (bounded wait): its source and the local address it arrived at. */
function recvOne(batch: MsgBatch, s: UdpSocket): { from: RawAddr; at: LocalAddr | undefined; text: string } {
  let n = -EAGAIN;
  for (let i = 0; i < 200 && n === -EAGAIN; i++) {
    n = batch.recv(s.fd, 1);
    if (n === -EAGAIN) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
  assert.equal(n, 1, 'a datagram arrived');
  const off = batch.slotOffset(0);
  return {
    from: batch.source(0)!,
    at: batch.destination(0),
    text: Buffer.from(batch.bytes.subarray(off, off + batch.length(0))).toString(),
  };
}

/** Sends `text` from native memory through `s` (optionally from `src`); the result of sendTo. */
function sendText(s: UdpSocket, batch: MsgBatch, to: RawAddr, text: string, src?: LocalAddr): number {
  const b = Buffer.from(text);
  batch.bytes.set(b, batch.slotOffset(0));
  return s.sendTo(to, batch.slotAddr(0), b.length, src);
}

test('pktinfo: the ancillary data a send carries, byte for byte (IPv4 at SOL_IP, IPv6 at SOL_IPV6)', () => {
  const v = new DataView(new ArrayBuffer(64));
  const bytes = new Uint8Array(v.buffer);
  bytes.fill(0xee);
  assert.equal(encodePktinfo(local4('10.1.2.3', 7), v, 0), PKTINFO4_SPACE);
  // cmsg_len 28, SOL_IP (0), IP_PKTINFO (8); ipi_ifindex 0 (routing picks), spec_dst, addr 0, pad.
  assert.equal(
    hex(bytes.subarray(0, 32)),
    `1c00000000000000 00000000 08000000 00000000 0a010203 00000000 00000000`.replace(/ /g, ''),
  );
  bytes.fill(0xee);
  assert.equal(encodePktinfo(local6('fd00::5', 7), v, 0), PKTINFO6_SPACE);
  // cmsg_len 36, SOL_IPV6 (41), IPV6_PKTINFO (50); address, ifindex 0 for a global address, pad.
  assert.equal(
    hex(bytes.subarray(0, 40)),
    `2400000000000000 29000000 32000000 fd000000000000000000000000000005 00000000 00000000`.replace(/ /g, ''),
  );
  encodePktinfo(local6('fe80::1', 7), v, 0);
  assert.equal(v.getUint32(32, true), 7, 'a link-local source keeps its interface');
});

test('pktinfo: decoding what recvmsg writes: IPV6_PKTINFO (v4-mapped is IPv4), IP_PKTINFO, several, garbage', () => {
  const v = new DataView(new ArrayBuffer(128));
  const b = new Uint8Array(v.buffer);
  // What the kernel wrote for a v4 datagram on a dual-stack socket (recorded with python).
  const mapped = Buffer.from('00000000000000000000ffff0a09000203000000', 'hex');
  v.setBigUint64(0, 36n, true);
  v.setInt32(8, 41, true);
  v.setInt32(12, 50, true);
  b.set(mapped, 16);
  assert.deepEqual(decodePktinfo(b, 0, 40), local4('10.9.0.2', 3));
  // An IP_PKTINFO message after an unrelated one (SO_TIMESTAMP-like, 8 data bytes).
  b.fill(0);
  v.setBigUint64(0, 24n, true);
  v.setInt32(8, 1, true);
  v.setInt32(12, 29, true);
  v.setBigUint64(24, 28n, true);
  v.setInt32(32, 0, true);
  v.setInt32(36, 8, true);
  v.setInt32(40, 4, true); // ipi_ifindex
  b.set(v4('10.9.0.1'), 44); // ipi_spec_dst
  b.set(v4('10.9.0.2'), 48); // ipi_addr: the header's destination
  assert.deepEqual(decodePktinfo(b, 0, 56), local4('10.9.0.2', 4));
  assert.equal(decodePktinfo(b, 0, 0), undefined, 'no ancillary data');
  v.setBigUint64(0, 400n, true);
  assert.equal(decodePktinfo(b, 0, 56), undefined, 'a length past the end');
});

test('pktinfo: the errnos that mean "this source is gone", and only those', () => {
  assert.equal(sourceRejected(22), true); // EINVAL: IPv6 (and older kernels' IPv4)
  assert.equal(sourceRejected(101), true); // ENETUNREACH: IPv4 on Linux 6.x
  assert.equal(sourceRejected(19), true); // ENODEV: the interface index
  assert.equal(sourceRejected(99), true); // EADDRNOTAVAIL
  assert.equal(sourceRejected(11), false); // EAGAIN: a full buffer is not the source's fault
  assert.equal(sourceRejected(105), false); // ENOBUFS
  assert.equal(sourceRejected(90), false); // EMSGSIZE
});

test('each datagram reports the local address it arrived at, on dual-stack and IPv4-only sockets', () => {
  for (const family of [6, 4] as const) {
    const server = UdpSocket.open({ port: 0, family: family === 4 ? 4 : undefined });
    const client = UdpSocket.open({ port: 0 });
    const rx = new MsgBatch(1, 256, server.family);
    const tx = new MsgBatch(1, 256, client.family);
    try {
      for (const dst of ['127.0.0.1', '127.0.0.2', '127.9.8.7']) {
        sendText(client, tx, to4(dst, server.port), dst);
        const got = recvOne(rx, server);
        assert.equal(got.text, dst);
        assert.deepEqual(got.at, local4(dst, 1), `IPv4 to ${dst} on an IPv${family} socket (lo is 1)`);
      }
      if (family === 6) {
        sendText(client, tx, to6('::1', server.port), 'six');
        assert.deepEqual(recvOne(rx, server).at, local6('::1', 1));
      }
    } finally {
      rx.free();
      tx.free();
      client.close();
      server.close();
    }
  }
});

test('a datagram leaves from the source it names: sendmsg and a sendmmsg batch mixing sources', () => {
  const server = UdpSocket.open({ port: 0 });
  const client = UdpSocket.open({ port: 0 });
  const rx = new MsgBatch(4, 256, 6);
  const tx = new MsgBatch(4, 256, 6);
  try {
    const dst = to4('127.0.0.1', server.port);
    assert.equal(sendText(client, tx, dst, 'plain'), 5);
    assert.deepEqual(recvOne(rx, server).from, to4('127.0.0.1', client.port), 'routing picks .1');
    assert.equal(sendText(client, tx, dst, 'sticky', local4('127.0.0.2')), 6);
    assert.deepEqual(recvOne(rx, server).from, to4('127.0.0.2', client.port));
    assert.equal(sendText(client, tx, to6('::1', server.port), 'six', local6('::1')), 3);
    assert.deepEqual(recvOne(rx, server).from, to6('::1', client.port));
    // A batch: sources .3, none, .4, then .3 again, in one sendmmsg.
    const srcs = [local4('127.0.0.3'), undefined, local4('127.0.0.4'), local4('127.0.0.3')];
    srcs.forEach((src, i) => {
      tx.bytes.set(Buffer.from(`m${i}`), tx.slotOffset(i));
      tx.prepare(i, dst, 2, src);
    });
    assert.equal(tx.send(client.fd, 0, 4), 4);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const got = recvOne(rx, server);
      seen.push(`${got.text}<${Array.from(got.from.address).join('.')}`);
    }
    assert.deepEqual(seen, ['m0<127.0.0.3', 'm1<127.0.0.1', 'm2<127.0.0.4', 'm3<127.0.0.3']);
    // Reused without a source, a slot sends from what routing picks again.
    tx.prepare(0, dst, 2);
    assert.equal(tx.send(client.fd, 0, 1), 1);
    assert.equal(Array.from(recvOne(rx, server).from.address).join('.'), '127.0.0.1');
    // An IPv4-only socket takes the same IP_PKTINFO message.
    const only4 = UdpSocket.open({ port: 0, family: 4 });
    const tx4 = new MsgBatch(1, 256, 4);
    try {
      assert.equal(sendText(only4, tx4, dst, 'four', local4('127.0.0.5')), 4);
      assert.deepEqual(recvOne(rx, server).from, to4('127.0.0.5', only4.port));
      tx4.prepare(0, dst, 1, local4('127.0.0.6'));
      assert.equal(tx4.send(only4.fd, 0, 1), 1);
      assert.deepEqual(recvOne(rx, server).from, to4('127.0.0.6', only4.port));
    } finally {
      tx4.free();
      only4.close();
    }
  } finally {
    rx.free();
    tx.free();
    client.close();
    server.close();
  }
});

test('a source that is not (or no longer) ours is refused with a sourceRejected errno; without it the send goes', (t) => {
  // Not ours at all (TEST-NET-1): no privileges needed.
  {
    const server = UdpSocket.open({ port: 0 });
    const client = UdpSocket.open({ port: 0 });
    const batch = new MsgBatch(2, 256, 6);
    try {
      const r = sendText(client, batch, to4('127.0.0.1', server.port), 'x', local4('192.0.2.1'));
      assert.ok(r < 0 && sourceRejected(-r), `IPv4: errno ${-r}`);
      const r6 = sendText(client, batch, to6('::1', server.port), 'x', local6('2001:db8::1'));
      assert.ok(r6 < 0 && sourceRejected(-r6), `IPv6: errno ${-r6}`);
      batch.prepare(0, to4('127.0.0.1', server.port), 1, local4('192.0.2.1'));
      const rb = batch.send(client.fd, 0, 1);
      assert.ok(rb < 0 && sourceRejected(-rb), `sendmmsg: errno ${-rb}`);
      batch.clearSource(0);
      assert.equal(batch.send(client.fd, 0, 1), 1, 'the same datagram without its source');
    } finally {
      batch.free();
      client.close();
      server.close();
    }
  }
  // Ours, then removed: in a private namespace.
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const ns = nsName('pki');
  deleteNetns(ns);
  addNetns(ns);
  try {
    ip(ns, 'addr', 'add', '10.61.0.2/32', 'dev', 'lo');
    ip(ns, 'addr', 'add', 'fd61::2/128', 'dev', 'lo', 'nodad');
    const [server, client] = inNetns(ns, () => [UdpSocket.open({ port: 0 }), UdpSocket.open({ port: 0 })]);
    const rx = new MsgBatch(1, 256, 6);
    const tx = new MsgBatch(1, 256, 6);
    try {
      for (const [dst, src, cidr] of [
        [to4('127.0.0.1', server!.port), local4('10.61.0.2'), '10.61.0.2/32'],
        [to6('::1', server!.port), local6('fd61::2'), 'fd61::2/128'],
      ] as const) {
        assert.equal(sendText(client!, tx, dst, 'before', src), 6);
        assert.deepEqual(recvOne(rx, server!).from.address, src.address);
        ip(ns, 'addr', 'del', cidr, 'dev', 'lo');
        const r = sendText(client!, tx, dst, 'after', src);
        assert.ok(r < 0 && sourceRejected(-r), `IPv${src.family} after removal: errno ${-r}`);
        assert.equal(sendText(client!, tx, dst, 'after'), 5);
        assert.deepEqual(recvOne(rx, server!).from.address, dst.address, 'routing picks a live address');
      }
    } finally {
      rx.free();
      tx.free();
      client!.close();
      server!.close();
    }
  } finally {
    deleteNetns(ns);
  }
});
