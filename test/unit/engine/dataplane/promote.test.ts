// Key confirmation in the data plane: a responder's keypair, installed to await its first
// packet, takes over sending on that packet only if the keypair it was installed to replace
// still sends. When both sides initiate at once, the core makes its own initiation's keypair
// current after the peer's initiation made a `next` (wireguard-go BeginSymmetricSession: the
// old `next` becomes `previous`); a packet arriving on that `previous` must not make it the
// sending keypair behind the core's back.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Keypair } from '../../../../src/engine/core/keypair.js';
import { need } from '../../../lib/run.js';
import { INDEX_A, INDEX_B, K1, K2, makePair, ping, until } from './pair.js';

const K3 = new Uint8Array(32).fill(0x33);
const K4 = new Uint8Array(32).fill(0x44);

test('a packet on a `next` the owner has since replaced as sender is reported, not promoted', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 77, tag: 'p77', keys: false });
  try {
    const ka = p.dpA.installKeypair(p.peerOnA, new Keypair(K1, K2, INDEX_A, INDEX_B, p.dpA.now(), true));
    p.dpA.setSendKeypair(p.peerOnA, ka);
    // B: an old current, then the responder's keypair awaiting confirmation over it...
    const old = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K3, K4, 0x0b0b0c01, 0x0a0a0c00, p.dpB.now(), true),
    );
    p.dpB.setSendKeypair(p.peerOnB, old);
    const kb = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K2, K1, INDEX_B, INDEX_A, p.dpB.now(), false),
      true,
    );
    // ...then B's own initiation completes: its keypair sends, `kb` is now only `previous`.
    const mine = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K4, K3, 0x0b0b0d01, 0x0a0a0d00, p.dpB.now(), true),
    );
    p.dpB.setSendKeypair(p.peerOnB, mine);
    await p.dpA.settle();
    await p.dpB.settle();
    const confirmed = once(p.dpB, 'confirmed');
    ping(p.nsA, `10.${p.net}.0.2`, 1); // B's echo goes out on `mine`, which A cannot open
    assert.deepEqual(await confirmed, [p.peerOnB, kb]);
    assert.equal(p.dpB.sendKeypair(p.peerOnB), mine, 'the sending keypair is still the owner’s choice');
    assert.ok(p.dpB.counters(p.peerOnB).rxBytes > 0n, 'the packet on `kb` was received');
  } finally {
    await p.close();
  }
});

test('a `next` whose keypair to replace was removed is not promoted over a later one', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping'] })) return;
  const p = await makePair({ net: 78, tag: 'p78', keys: false });
  try {
    const ka = p.dpA.installKeypair(p.peerOnA, new Keypair(K1, K2, INDEX_A, INDEX_B, p.dpA.now(), true));
    p.dpA.setSendKeypair(p.peerOnA, ka);
    const old = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K3, K4, 0x0b0b0c01, 0x0a0a0c00, p.dpB.now(), true),
    );
    p.dpB.setSendKeypair(p.peerOnB, old);
    const kb = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K2, K1, INDEX_B, INDEX_A, p.dpB.now(), false),
      true,
    );
    p.dpB.removeKeypair(old);
    await p.dpB.settle();
    // Whatever slot the next keypair gets (the old one's, once every worker saw it go), `kb`
    // was to replace the removed keypair, not this one.
    const later = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K4, K3, 0x0b0b0d01, 0x0a0a0d00, p.dpB.now(), true),
    );
    p.dpB.setSendKeypair(p.peerOnB, later);
    await p.dpA.settle();
    await p.dpB.settle();
    const confirmed = once(p.dpB, 'confirmed');
    ping(p.nsA, `10.${p.net}.0.2`, 1);
    assert.deepEqual(await confirmed, [p.peerOnB, kb]);
    assert.equal(p.dpB.sendKeypair(p.peerOnB), later);
    // And with nothing sending, the awaited keypair does take over (the standard case).
    const kb2 = p.dpB.installKeypair(
      p.peerOnB,
      new Keypair(K2, K1, INDEX_B + 0x100, INDEX_A, p.dpB.now(), false),
      { over: undefined },
    );
    p.dpB.setSendKeypair(p.peerOnB, undefined);
    p.dpA.removeKeypair(ka);
    const ka2 = p.dpA.installKeypair(
      p.peerOnA,
      new Keypair(K1, K2, INDEX_A, INDEX_B + 0x100, p.dpA.now(), true),
    );
    p.dpA.setSendKeypair(p.peerOnA, ka2);
    await p.dpA.settle();
    await p.dpB.settle();
    const again = once(p.dpB, 'confirmed');
    ping(p.nsA, `10.${p.net}.0.2`, 1);
    assert.deepEqual(await again, [p.peerOnB, kb2]);
    assert.ok(await until(() => p.dpB.sendKeypair(p.peerOnB) === kb2));
  } finally {
    await p.close();
  }
});
