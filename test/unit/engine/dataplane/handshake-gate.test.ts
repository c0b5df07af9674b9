// The data plane's gate on real sockets (gate.ts in the receive worker): once the main thread
// names the device's public key, only handshake messages with a valid mac1 (and cookie
// replies) reach 'handshake'; a source over its budget is cut off and reported as
// 'handshakeShed', while another source still gets through.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { INITIATION_SIZE } from '../../../../src/engine/core/messages.js';
import {
  HANDSHAKE_SOURCE_BURST,
  HANDSHAKE_SOURCE_RATE_PER_SEC,
} from '../../../../src/engine/dataplane/gate.js';
import { inetNtop } from '../../../../src/model/inet.js';
import { allocNative, freeNative } from '../../../../src/sys/native.js';
import type { LocalAddr } from '../../../../src/sys/pktinfo.js';
import { type RawAddr, UdpSocket } from '../../../../src/sys/udp.js';
import { UdpGsoSender } from '../../../../src/sys/udp-gso.js';
import { floodMessages } from '../../../lib/flood.js';
import { need } from '../../../lib/run.js';
import { inNetns, ip } from '../../sys/netns.js';
import { makePair, until } from './pair.js';

const PUB = new Uint8Array(randomBytes(32));

function send(sock: UdpSocket, to: RawAddr, data: Uint8Array, from?: LocalAddr): void {
  const mem = allocNative(data.length);
  mem.bytes.set(data);
  assert.equal(sock.sendTo(to, mem.addr, data.length, from), data.length);
  freeNative(mem);
}

test('with the key set, bad mac1 stops in the worker, a flooding source is cut off and reported, another source passes', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 91, tag: 'g91' });
  ip(p.nsA, 'addr', 'add', '192.168.91.3/24', 'dev', p.vethA);
  const sock = inNetns(p.nsA, () => UdpSocket.open({ port: 0, family: 4 }));
  try {
    const got: { type: number; from: string }[] = [];
    let shed = 0;
    p.dpB.on('handshake', (data, from) => got.push({ type: data[0]!, from: inetNtop(from.address) }));
    p.dpB.on('handshakeShed', (n) => {
      shed += n;
    });
    p.dpB.setHandshakeKey(PUB);
    await p.dpB.settle();
    const to: RawAddr = { family: 4, address: Uint8Array.of(192, 168, 91, 2), port: p.dpB.port, scopeId: 0 };
    const [good] = floodMessages(PUB, 1) as [Uint8Array];
    const bad = floodMessages(new Uint8Array(randomBytes(32)), 1)[0]!;
    const cookie = new Uint8Array(64);
    cookie[0] = 3;
    for (const m of [bad, good, cookie]) send(sock, to, m);
    assert.ok(await until(() => got.length >= 2));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      got.map((g) => g.type),
      [1, 3],
    );
    assert.equal(shed, 0, 'nothing shed yet');

    // One source, three bursts' worth at once: at most a burst (and a little refill) passes.
    got.length = 0;
    const flood = floodMessages(PUB, 64);
    // The budget refills at HANDSHAKE_SOURCE_RATE_PER_SEC while the burst is sent and read:
    // on a loaded machine that takes a while, so the bound grows with the time it took.
    const t0 = performance.now();
    for (let i = 0; i < HANDSHAKE_SOURCE_BURST * 3; i++) send(sock, to, flood[i % 64]!);
    assert.ok(await until(() => shed > 0), 'the flood was reported');
    await new Promise((r) => setTimeout(r, 100));
    const refill = Math.ceil(((performance.now() - t0) / 1000) * HANDSHAKE_SOURCE_RATE_PER_SEC);
    const fromA = got.filter((g) => g.from === '192.168.91.1').length;
    assert.ok(fromA <= HANDSHAKE_SOURCE_BURST + refill + 2, `${fromA} passed (refill ${refill})`);
    assert.ok(fromA >= HANDSHAKE_SOURCE_BURST - 2, `${fromA} passed`);

    // Another address on the same link is a source of its own.
    const other: LocalAddr = { family: 4, address: Uint8Array.of(192, 168, 91, 3), ifindex: 0 };
    send(sock, to, good, other);
    assert.ok(await until(() => got.some((g) => g.from === '192.168.91.3')));
  } finally {
    sock.close();
    await p.close();
  }
});

test('a UDP_GRO datagram of more initiations than a receive batch holds: all reach the main thread, the worker lives', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 92, tag: 'g92', dp: { batch: 16 } });
  const sock = inNetns(p.nsA, () => UdpSocket.open({ port: 0, family: 4 }));
  const sender = new UdpGsoSender(sock.fd, sock.family);
  const COUNT = 40; // over the batch of 16, under a source's burst
  const mem = allocNative(COUNT * INITIATION_SIZE);
  try {
    if (!sender.gso) return t.skip('needs a kernel with UDP_SEGMENT');
    const got: number[] = [];
    const errors: Error[] = [];
    p.dpB.on('handshake', (data) => got.push(data[0]!));
    p.dpB.on('error', (e) => errors.push(e));
    p.dpB.setHandshakeKey(PUB);
    await p.dpB.settle();
    for (const [i, m] of floodMessages(PUB, COUNT).entries()) mem.bytes.set(m, i * INITIATION_SIZE);
    const to: RawAddr = { family: 4, address: Uint8Array.of(192, 168, 92, 2), port: p.dpB.port, scopeId: 0 };
    // One send: the kernel keeps it whole across the veth to B's UDP_GRO socket.
    assert.equal(
      sender.send(to, mem.addr, COUNT * INITIATION_SIZE, INITIATION_SIZE),
      COUNT * INITIATION_SIZE,
    );
    assert.ok(
      await until(() => got.length >= COUNT, 5000),
      `${got.length} of ${COUNT} reached the main thread`,
    );
    // The worker is still there: another message passes.
    const [late] = floodMessages(PUB, 1) as [Uint8Array];
    send(sock, to, late);
    assert.ok(await until(() => got.length >= COUNT + 1, 5000), 'a later message passes');
    assert.deepEqual(errors, []);
  } finally {
    freeNative(mem);
    sender.free();
    sock.close();
    await p.close();
  }
});
