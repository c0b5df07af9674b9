// What the data plane hands to the main thread, and what it refuses: handshake messages,
// packets without a keypair, keypair confirmation, new source addresses, replays, forged
// inner sources, the main thread's own sends (keepalives), and traffic events.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { aeadSeal } from '../../../../src/crypto/aead.js';
import { Keypair } from '../../../../src/engine/core/keypair.js';
import type { Moved } from '../../../../src/engine/dataplane/dataplane.js';
import { inetNtop } from '../../../../src/model/inet.js';
import { allocNative, freeNative, POLLIN, PollSet } from '../../../../src/sys/native.js';
import { MsgBatch, type RawAddr, UdpSocket } from '../../../../src/sys/udp.js';
import { udp4 as udp4Packet } from '../../../lib/packets.js';
import { hostAddr } from '../../../lib/path-addr.js';
import { need } from '../../../lib/run.js';
import { inNetns } from '../../sys/netns.js';
import { INDEX_A, INDEX_B, K1, K2, makePair, ping, until } from './pair.js';

const addr4 = (s: string, port: number): RawAddr => ({
  family: 4,
  address: Uint8Array.from(s.split('.').map(Number)),
  port,
  scopeId: 0,
});

/** A transport message as A would send it to B: header, then the sealed, padded packet. */
function transport(counter: number, inner: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil(inner.length / 16) * 16);
  padded.set(inner);
  const sealed = aeadSeal(K1, counter, padded);
  const m = new Uint8Array(16 + sealed.length);
  const v = new DataView(m.buffer);
  v.setUint32(0, 4, true);
  v.setUint32(4, INDEX_B, true);
  v.setUint32(8, counter, true);
  m.set(sealed, 16);
  return m;
}

/** IPv4/UDP from src:4444 to dst:port (IP header summed, UDP checksum 0), with a text payload. */
function udp4(src: number[], dst: number[], dport: number, payload: string): Uint8Array {
  return udp4Packet(src, 4444, dst, dport, new TextEncoder().encode(payload));
}

function send(sock: UdpSocket, to: RawAddr, data: Uint8Array): void {
  const mem = allocNative(data.length);
  mem.bytes.set(data);
  assert.equal(sock.sendTo(to, mem.addr, data.length), data.length);
  freeNative(mem);
}

/** Payloads that reach `sock` within `ms`. */
function drain(sock: UdpSocket, ms: number): string[] {
  const batch = new MsgBatch(16, 2048, sock.family);
  const ps = new PollSet([{ fd: sock.fd, events: POLLIN }]);
  const out: string[] = [];
  const end = Date.now() + ms;
  try {
    while (Date.now() < end) {
      ps.wait(Math.max(1, end - Date.now()));
      const n = batch.recv(sock.fd);
      for (let i = 0; i < n; i++)
        out.push(
          Buffer.from(
            batch.bytes.subarray(batch.slotOffset(i), batch.slotOffset(i) + batch.length(i)),
          ).toString(),
        );
    }
  } finally {
    ps.free();
    batch.free();
  }
  return out;
}

test('handshake messages (types 1-3, exact sizes) reach the main thread with their source', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 71, tag: 'e71' });
  const sock = inNetns(p.nsA, () => UdpSocket.open({ port: 0 }));
  try {
    const got: { data: Uint8Array; port: number; address: string }[] = [];
    p.dpB.on('handshake', (data, from) =>
      got.push({ data, port: from.port, address: inetNtop(from.address) }),
    );
    const init = new Uint8Array(148);
    init[0] = 1;
    init.fill(0x5a, 4);
    const response = new Uint8Array(92);
    response[0] = 2;
    const cookie = new Uint8Array(64);
    cookie[0] = 3;
    const junk = new Uint8Array(147);
    junk[0] = 1; // an initiation one byte short
    const reserved = new Uint8Array(148);
    reserved[0] = 1;
    reserved[1] = 1; // non-zero reserved byte: no known type
    for (const m of [init, junk, reserved, response, cookie])
      send(sock, addr4(`192.168.${p.net}.2`, p.dpB.port), m);
    assert.ok(await until(() => got.length >= 3));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      got.map((g) => [g.data[0], g.data.length]),
      [
        [1, 148],
        [2, 92],
        [3, 64],
      ],
    );
    assert.deepEqual(Buffer.from(got[0]!.data), Buffer.from(init));
    assert.equal(got[0]!.port, sock.port);
    assert.equal(got[0]!.address, `192.168.${p.net}.1`);
  } finally {
    sock.close();
    await p.close();
  }
});

test('a packet for a peer without a keypair goes to the main thread (needKey), and flows once one is set', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 72, tag: 'e72', keys: false });
  try {
    const waiting = once(p.dpA, 'needKey');
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 1), 0);
    const [peer, packet] = (await waiting) as [number, Uint8Array];
    assert.equal(peer, p.peerOnA);
    assert.equal(packet[0]! >> 4, 4);
    assert.deepEqual([...packet.subarray(16, 20)], [10, p.net, 0, 2]);
    assert.equal(p.dpA.counters(p.peerOnA).txBytes, 0n);
    // The responder's keypair waits for confirmation: B must not send with it before A's first packet.
    const kb = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K2, K1, INDEX_B, INDEX_A, p.dpB.now(), false),
      true,
    );
    const ka = p.dpA.installKeypair(p.peerOnA, new Keypair(K1, K2, INDEX_A, INDEX_B, p.dpA.now(), true));
    await p.dpB.settle();
    assert.equal(p.dpB.sendKeypair(p.peerOnB), undefined);
    p.dpA.setSendKeypair(p.peerOnA, ka);
    await p.dpA.settle();
    const confirmed = once(p.dpB, 'confirmed');
    assert.equal(ping(p.nsA, `10.${p.net}.0.2`, 2), 2);
    assert.deepEqual(await confirmed, [p.peerOnB, kb]);
    assert.equal(p.dpB.sendKeypair(p.peerOnB), kb);
  } finally {
    await p.close();
  }
});

test('replayed, forged and wrongly-sourced transport messages are dropped; good ones are delivered', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 73, tag: 'e73' });
  const attacker = inNetns(p.nsA, () => UdpSocket.open({ port: 0 }));
  const listener = inNetns(p.nsB, () => UdpSocket.open({ port: 0 }));
  try {
    const to = addr4(`192.168.${p.net}.2`, p.dpB.port);
    const good = transport(1000, udp4([10, p.net, 0, 1], [10, p.net, 0, 2], listener.port, 'first'));
    send(attacker, to, good);
    assert.deepEqual(drain(listener, 300), ['first']);
    const rx1 = p.dpB.counters(p.peerOnB).rxBytes;
    assert.equal(rx1, BigInt(good.length));
    send(attacker, to, good); // the same counter again
    const forged = transport(1001, udp4([10, p.net, 0, 1], [10, p.net, 0, 2], listener.port, 'forged'));
    forged[forged.length - 1]! ^= 1;
    send(attacker, to, forged);
    // Authentic, but the inner source 10.n.0.99 is not in A's allowed IPs at B.
    send(
      attacker,
      to,
      transport(1002, udp4([10, p.net, 0, 99], [10, p.net, 0, 2], listener.port, 'spoofed')),
    );
    // Behind the highest counter but inside the window: accepted once.
    send(attacker, to, transport(900, udp4([10, p.net, 0, 1], [10, p.net, 0, 2], listener.port, 'late')));
    assert.deepEqual(drain(listener, 300), ['late']);
    // Counted: the first and the authenticated ones (spoofed and late), not the replay or the forgery.
    const spoofedLen = transport(1002, udp4([10, p.net, 0, 99], [10, p.net, 0, 2], 1, 'spoofed')).length;
    const lateLen = transport(900, udp4([10, p.net, 0, 1], [10, p.net, 0, 2], 1, 'late')).length;
    assert.equal(p.dpB.counters(p.peerOnB).rxBytes, rx1 + BigInt(spoofedLen + lateLen));
  } finally {
    attacker.close();
    listener.close();
    await p.close();
  }
});

test("a keypair installed after another was dropped has a window of its own (a dropped keypair's is reused)", async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 76, tag: 'e76' });
  const attacker = inNetns(p.nsA, () => UdpSocket.open({ port: 0 }));
  const listener = inNetns(p.nsB, () => UdpSocket.open({ port: 0 }));
  try {
    const to = addr4(`192.168.${p.net}.2`, p.dpB.port);
    const msg = (counter: number, text: string) =>
      transport(counter, udp4([10, p.net, 0, 1], [10, p.net, 0, 2], listener.port, text));
    send(attacker, to, msg(0, 'one'));
    send(attacker, to, msg(1, 'two'));
    send(attacker, to, msg(1, 'replayed'));
    assert.deepEqual(drain(listener, 300), ['one', 'two']);
    // Rekeyed several times (same keys and index, so the same datagrams open): each new
    // keypair starts with an empty window, whichever dropped keypair's ring it got.
    let slot = p.keypairB;
    for (let round = 0; round < 3; round++) {
      p.dpB.removeKeypair(slot);
      slot = p.dpB.installKeypair(p.peerOnB, new Keypair(K2, K1, INDEX_B, INDEX_A, p.dpB.now(), false));
      p.dpB.setSendKeypair(p.peerOnB, slot);
      await p.dpB.settle();
      send(attacker, to, msg(0, `one ${round}`));
      send(attacker, to, msg(1, `two ${round}`));
      send(attacker, to, msg(0, 'replayed'));
      assert.deepEqual(drain(listener, 300), [`one ${round}`, `two ${round}`]);
    }
  } finally {
    attacker.close();
    listener.close();
    await p.close();
  }
});

test('an authenticated packet from a new source address is reported (roam), once', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 74, tag: 'e74' });
  const other = inNetns(p.nsA, () => UdpSocket.open({ port: 0 }));
  try {
    const roams: [number, string, number][] = [];
    p.dpB.on('roam', (peer, from) => roams.push([peer, inetNtop(from.address), from.port]));
    const moved: Moved[] = [];
    p.dpB.on('traffic', (m) => moved.push(...m.filter((x) => x.peer === p.peerOnB)));
    const to = addr4(`192.168.${p.net}.2`, p.dpB.port);
    send(other, to, transport(5, new Uint8Array(0))); // a keepalive from another port
    send(other, to, transport(6, new Uint8Array(0)));
    assert.ok(await until(() => roams.length > 0));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(roams, [[p.peerOnB, `192.168.${p.net}.1`, other.port]]);
    // Keepalives count as authenticated traffic, not as data.
    p.dpB.takeTraffic();
    assert.ok(moved.some((m) => m.rxAt > 0));
    assert.ok(!moved.some((m) => m.rxData));
    assert.equal(p.dpB.counters(p.peerOnB).rxBytes, 64n);
  } finally {
    other.close();
    await p.close();
  }
});

test('the main thread sends keepalives and staged packets with the shared counters', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 75, tag: 'e75' });
  const listener = inNetns(p.nsB, () => UdpSocket.open({ port: 0 }));
  try {
    assert.equal(p.dpA.sendData(p.peerOnA, [new Uint8Array(0)]), 1);
    const staged = udp4([10, p.net, 0, 1], [10, p.net, 0, 2], listener.port, 'staged');
    assert.equal(p.dpA.sendData(p.peerOnA, [staged, staged]), 2);
    assert.deepEqual(
      drain(listener, 300),
      ['staged', 'staged'],
      'distinct counters: both pass the replay window',
    );
    assert.ok(await until(() => p.dpB.counters(p.peerOnB).rxBytes === 32n + 2n * (16n + 48n + 16n)));
    assert.equal(p.dpA.counters(p.peerOnA).txBytes, 32n + 2n * (16n + 48n + 16n));
    assert.equal(
      p.dpA.sendHandshake(new Uint8Array(148), hostAddr(`192.168.${p.net}.2`, 9), p.peerOnA),
      true,
    );
    assert.equal(p.dpA.counters(p.peerOnA).txBytes, 32n + 2n * 80n + 148n);
    p.dpA.setSendKeypair(p.peerOnA, undefined);
    assert.equal(p.dpA.sendData(p.peerOnA, [new Uint8Array(0)]), 0, 'no keypair, nothing sent');
  } finally {
    listener.close();
    await p.close();
  }
});

test('transport reaches the main thread as coalesced traffic events, the first within milliseconds', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const p = await makePair({ net: 76, tag: 'e76' });
  const other = inNetns(p.nsA, () => UdpSocket.open({ port: 0 }));
  try {
    const onB: number[][] = [];
    p.dpB.on('traffic', (moved) => onB.push(moved.map((m) => m.peer)));
    const to = addr4(`192.168.${p.net}.2`, p.dpB.port);
    send(other, to, transport(1, new Uint8Array(0)));
    assert.ok(await until(() => onB.length > 0), 'one keepalive brings an event');
    assert.deepEqual(onB, [[p.peerOnB]]);
    // A burst: many packets, few events (the workers post none while one waits, and the main
    // thread takes them at most every few milliseconds), each naming the peer.
    const packets = 3000;
    onB.length = 0;
    for (let c = 2; c < packets + 2; c++) send(other, to, transport(c, new Uint8Array(0)));
    assert.ok(await until(() => p.dpB.counters(p.peerOnB).rxBytes === BigInt(32 * (packets + 1)), 5000));
    await new Promise((r) => setTimeout(r, 50));
    t.diagnostic(`${packets} packets, ${onB.length} traffic events`);
    assert.ok(onB.length >= 1 && onB.length < packets / 10, `${onB.length} events`);
    for (const peers of onB) assert.deepEqual(peers, [p.peerOnB]);
    // The main thread's own sends are traffic too.
    const onA: number[][] = [];
    p.dpA.on('traffic', (moved) => {
      onA.push(moved.map((m) => m.peer));
      assert.ok(
        moved.every((m) => m.txAt > 0 && !m.txData && m.rxAt === 0),
        'a keepalive sent',
      );
    });
    assert.equal(p.dpA.sendData(p.peerOnA, [new Uint8Array(0)]), 1);
    assert.ok(await until(() => onA.length > 0));
    assert.deepEqual(onA, [[p.peerOnA]]);
  } finally {
    other.close();
    await p.close();
  }
});
