import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AllowedIPs, type Family, maskPrefix } from '../../../../src/engine/core/allowedips.js';

const v4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
const show = (p: { address: Uint8Array; cidr: number }) => `${[...p.address].join('.')}/${p.cidr}`;

test('longest prefix wins, both directions of nesting', () => {
  const t = new AllowedIPs<string>();
  t.insert(4, v4('10.0.0.0'), 8, 'a');
  t.insert(4, v4('10.1.0.0'), 16, 'b');
  t.insert(4, v4('10.1.2.3'), 32, 'c');
  t.insert(4, v4('0.0.0.0'), 0, 'default');
  assert.equal(t.lookup(4, v4('10.1.2.3')), 'c');
  assert.equal(t.lookup(4, v4('10.1.2.4')), 'b');
  assert.equal(t.lookup(4, v4('10.2.0.1')), 'a');
  assert.equal(t.lookup(4, v4('11.0.0.1')), 'default');
  assert.equal(t.lookup(6, new Uint8Array(16)), undefined, 'families are separate');
});

test('host bits are masked; insertion order kept; re-add keeps its place', () => {
  const t = new AllowedIPs<string>();
  t.insert(4, v4('10.0.3.1'), 24, 'p');
  t.insert(4, v4('192.168.0.0'), 16, 'p');
  t.insert(4, v4('10.0.3.77'), 24, 'p');
  assert.deepEqual(t.entries('p').map(show), ['10.0.3.0/24', '192.168.0.0/16']);
});

test('a prefix given to another peer moves there (to the end of its list)', () => {
  const t = new AllowedIPs<string>();
  t.insert(4, v4('10.0.0.0'), 24, 'p');
  t.insert(4, v4('10.0.1.0'), 24, 'p');
  t.insert(4, v4('172.16.0.0'), 12, 'q');
  t.insert(4, v4('10.0.0.0'), 24, 'q');
  assert.deepEqual(t.entries('p').map(show), ['10.0.1.0/24']);
  assert.deepEqual(t.entries('q').map(show), ['172.16.0.0/12', '10.0.0.0/24']);
  assert.equal(t.lookup(4, v4('10.0.0.9')), 'q');
});

test('remove only what the peer holds; removeOwner clears a peer', () => {
  const t = new AllowedIPs<string>();
  t.insert(4, v4('10.0.0.0'), 8, 'p');
  t.insert(4, v4('10.9.0.0'), 16, 'q');
  assert.equal(t.remove(4, v4('10.9.0.0'), 16, 'p'), false);
  assert.equal(t.lookup(4, v4('10.9.1.1')), 'q');
  assert.equal(t.remove(4, v4('10.9.0.5'), 16, 'q'), true, 'host bits ignored');
  assert.equal(t.lookup(4, v4('10.9.1.1')), 'p');
  t.removeOwner('p');
  assert.equal(t.lookup(4, v4('10.9.1.1')), undefined);
  assert.deepEqual(t.entries('p'), []);
});

test('a peer with one prefix, then more, then one again: lists stay exact and ordered', () => {
  const t = new AllowedIPs<string>();
  t.insert(4, v4('10.0.0.1'), 32, 'p');
  t.insert(4, v4('10.0.0.1'), 32, 'p');
  assert.deepEqual(t.entries('p').map(show), ['10.0.0.1/32'], 'a second insert of the one prefix');
  t.insert(4, v4('10.0.0.2'), 32, 'p');
  t.insert(4, v4('10.0.0.1'), 32, 'p');
  assert.deepEqual(t.entries('p').map(show), ['10.0.0.1/32', '10.0.0.2/32']);
  assert.equal(t.remove(4, v4('10.0.0.1'), 32, 'p'), true);
  assert.deepEqual(t.entries('p').map(show), ['10.0.0.2/32']);
  // Its one prefix moves to another peer: p has none left, and q's one is q's.
  t.insert(4, v4('10.0.0.2'), 32, 'q');
  assert.deepEqual(t.entries('p'), []);
  assert.deepEqual(t.entries('q').map(show), ['10.0.0.2/32']);
  // Same bytes and length in another family, or another length: other prefixes.
  t.insert(4, v4('10.0.0.0'), 31, 'q');
  assert.deepEqual(t.entries('q').map(show), ['10.0.0.2/32', '10.0.0.0/31']);
  assert.equal(t.remove(4, v4('10.0.0.2'), 32, 'p'), false);
  t.removeOwner('q');
  assert.deepEqual(t.entries('q'), []);
  assert.equal(t.lookup(4, v4('10.0.0.2')), undefined);
  // A removal of a prefix the peer does not hold leaves its one prefix.
  t.insert(4, v4('10.0.0.7'), 32, 'r');
  assert.equal(t.remove(4, v4('10.0.0.8'), 32, 'r'), false);
  assert.deepEqual(t.entries('r').map(show), ['10.0.0.7/32']);
  // A peer's only prefix taken by another peer, or removed.
  t.insert(4, v4('10.0.0.7'), 32, 's');
  assert.deepEqual(t.entries('r'), []);
  assert.equal(t.remove(4, v4('10.0.0.7'), 32, 's'), true);
  assert.deepEqual(t.entries('s'), []);
});

test('packet helpers read IPv4/IPv6 source and destination', () => {
  const t = new AllowedIPs<string>();
  t.insert(4, v4('192.0.2.0'), 24, 'src');
  t.insert(4, v4('198.51.100.0'), 24, 'dst');
  const ip4 = new Uint8Array(20);
  ip4[0] = 0x45;
  ip4.set(v4('192.0.2.7'), 12);
  ip4.set(v4('198.51.100.9'), 16);
  assert.equal(t.lookupSource(ip4), 'src');
  assert.equal(t.lookupDestination(ip4), 'dst');
  const a6 = new Uint8Array(16);
  a6[0] = 0x20;
  a6[1] = 0x01;
  t.insert(6, a6, 16, 'six');
  const ip6 = new Uint8Array(40);
  ip6[0] = 0x60;
  ip6.set(a6, 24);
  assert.equal(t.lookupDestination(ip6), 'six');
  assert.equal(t.lookupSource(ip6), undefined);
  assert.equal(t.lookupDestination(ip6.subarray(0, 39)), undefined, 'truncated');
  assert.equal(t.lookupDestination(Uint8Array.of(0x50)), undefined, 'not IP');
});

test('agrees with a slow reference under random inserts, moves and removals', () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const family of [4, 6] as Family[]) {
    const len = family === 4 ? 4 : 16;
    const t = new AllowedIPs<number>();
    const ref = new Map<string, { bits: Uint8Array; cidr: number; owner: number }>();
    const randAddr = () => {
      // Few distinct leading bytes so that prefixes nest and collide often.
      const a = new Uint8Array(len);
      for (let i = 0; i < len; i++) a[i] = i < 2 ? rnd(4) * 64 + rnd(2) : rnd(256);
      return a;
    };
    const key = (b: Uint8Array, c: number) => `${Buffer.from(b).toString('hex')}/${c}`;
    // The slow reference: compare the first `cidr` bits one by one.
    const matches = (bits: Uint8Array, cidr: number, a: Uint8Array) => {
      for (let i = 0; i < cidr; i++) {
        const m = 0x80 >> (i & 7);
        if ((bits[i >> 3]! & m) !== (a[i >> 3]! & m)) return false;
      }
      return true;
    };
    for (let step = 0; step < 2000; step++) {
      const cidr = rnd(len * 8 + 1);
      const bits = maskPrefix(randAddr(), cidr);
      const owner = rnd(5);
      if (rnd(3) === 0) {
        const k = key(bits, cidr);
        const had = ref.get(k);
        const removed = t.remove(family, bits, cidr, owner);
        assert.equal(removed, had?.owner === owner);
        if (removed) ref.delete(k);
      } else {
        t.insert(family, bits, cidr, owner);
        ref.set(key(bits, cidr), { bits, cidr, owner });
      }
      for (let q = 0; q < 5; q++) {
        const a = randAddr();
        let best: { cidr: number; owner: number } | undefined;
        for (const e of ref.values())
          if (matches(e.bits, e.cidr, a) && (!best || e.cidr > best.cidr)) best = e;
        assert.equal(t.lookup(family, a), best?.owner, `IPv${family} step ${step}`);
      }
    }
    for (let o = 0; o < 5; o++) {
      const want = [...ref.values()]
        .filter((e) => e.owner === o)
        .map((e) => key(e.bits, e.cidr))
        .sort();
      assert.deepEqual(
        t
          .entries(o)
          .map((e) => key(e.address, e.cidr))
          .sort(),
        want,
      );
    }
  }
});
