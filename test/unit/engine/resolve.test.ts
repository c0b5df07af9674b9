// RFC 8305 name resolution for candidates, against a tiny DNS server on loopback
// (test/lib/tiny-dns.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPath } from '../../../src/engine/core/addr.js';
import {
  type Lookup,
  literal,
  NameWatcher,
  type Resolution,
  reresolveDelayMs,
  resolveCandidates,
} from '../../../src/engine/resolve.js';
import { TYPE_A, TYPE_AAAA, withDns } from '../../lib/tiny-dns.js';

const show = (r: Resolution) => r.addrs.map(formatPath);

test('AAAA answers first: racing starts at once; A arrives later as an update, interleaved', () =>
  withDns(async (dns) => {
    dns.zone.set('peer.test', {
      AAAA: { addrs: ['2001:db8::1', '2001:db8::2'], ttl: 600, delay: 0 },
      A: { addrs: ['192.0.2.1', '192.0.2.2'], ttl: 60, delay: 200 },
    });
    const updates: Resolution[] = [];
    const first = await resolveCandidates('peer.test', 51820, dns.lookup(), (r) => updates.push(r));
    assert.deepEqual(show(first), ['[2001:db8::1]:51820', '[2001:db8::2]:51820']);
    assert.equal(first.complete, false);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(updates.length, 1);
    assert.deepEqual(show(updates[0]!), [
      '[2001:db8::1]:51820',
      '192.0.2.1:51820',
      '[2001:db8::2]:51820',
      '192.0.2.2:51820',
    ]);
    assert.equal(updates[0]!.complete, true);
    assert.equal(updates[0]!.ttlMs, 60_000, 'the smallest TTL');
    const types = dns.queries.map((q) => q.type);
    assert.deepEqual(types.sort(), [TYPE_A, TYPE_AAAA], 'one query per family');
  }));

test('A answers first, AAAA within the 50 ms Resolution Delay: both in the first result', () =>
  withDns(async (dns) => {
    dns.zone.set('peer.test', {
      AAAA: { addrs: ['2001:db8::1'], ttl: 600, delay: 20 },
      A: { addrs: ['192.0.2.1'], ttl: 600, delay: 0 },
    });
    const first = await resolveCandidates('peer.test', 1, dns.lookup());
    assert.deepEqual(show(first), ['[2001:db8::1]:1', '192.0.2.1:1']);
    assert.equal(first.complete, true);
  }));

test('A answers first, AAAA late: IPv4 starts after the 50 ms Resolution Delay, IPv6 follows as an update', () =>
  withDns(async (dns) => {
    dns.zone.set('peer.test', {
      AAAA: { addrs: ['2001:db8::1'], ttl: 600, delay: 400 },
      A: { addrs: ['192.0.2.1'], ttl: 600, delay: 0 },
    });
    const updates: Resolution[] = [];
    const t0 = performance.now();
    const first = await resolveCandidates('peer.test', 1, dns.lookup(), (r) => updates.push(r));
    const waited = performance.now() - t0;
    assert.deepEqual(show(first), ['192.0.2.1:1']);
    assert.ok(waited >= 45, `started after ${waited} ms, before the Resolution Delay`);
    assert.ok(waited < 350, `started after ${waited} ms: it waited for AAAA`);
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(show(updates.at(-1)!), ['[2001:db8::1]:1', '192.0.2.1:1']);
  }));

test('no AAAA records: IPv4 goes ahead; no records at all: an error naming both answers', () =>
  withDns(async (dns) => {
    dns.zone.set('v4only.test', { A: { addrs: ['192.0.2.7'], ttl: 5, delay: 0 } });
    const r = await resolveCandidates('v4only.test', 1, dns.lookup());
    assert.deepEqual(show(r), ['192.0.2.7:1']);
    assert.equal(r.complete, true);
    assert.ok(r.errors[6]);
    await assert.rejects(
      resolveCandidates('missing.test', 1, dns.lookup()),
      /missing\.test: no address \(AAAA: ENOTFOUND; A: ENOTFOUND\)/,
    );
  }));

test('bounds: at most 4 addresses per family and 8 in all, alternating families', () =>
  withDns(async (dns) => {
    dns.zone.set('big.test', {
      AAAA: { addrs: Array.from({ length: 6 }, (_, i) => `2001:db8::${i + 1}`), ttl: 600, delay: 0 },
      A: { addrs: Array.from({ length: 6 }, (_, i) => `192.0.2.${i + 1}`), ttl: 600, delay: 0 },
    });
    const updates: Resolution[] = [];
    await resolveCandidates('big.test', 1, dns.lookup(), (u) => updates.push(u));
    await new Promise((r) => setTimeout(r, 100));
    const all = updates.at(-1) ?? (await resolveCandidates('big.test', 1, dns.lookup()));
    assert.equal(all.addrs.length, 8);
    assert.deepEqual(
      all.addrs.map((a) => a.family),
      [6, 4, 6, 4, 6, 4, 6, 4],
    );
  }));

test('literals need no DNS; scoped IPv6 literals are not candidates', async () => {
  const never: Lookup = {
    resolve4: () => Promise.reject(new Error('queried')),
    resolve6: () => Promise.reject(new Error('queried')),
  };
  assert.deepEqual(show(await resolveCandidates('192.0.2.1', 7, never)), ['192.0.2.1:7']);
  assert.deepEqual(show(await resolveCandidates('[2001:db8::9]', 7, never)), ['[2001:db8::9]:7']);
  assert.deepEqual(
    literal('::ffff:192.0.2.1', 1)?.address,
    Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 0, 2, 1),
  );
  assert.equal(literal('fe80::1%eth0', 1), undefined);
  assert.equal(literal('peer.test', 1), undefined);
});

test('re-resolution: max(TTL, 30 s), at most 5 min apart', () => {
  assert.equal(reresolveDelayMs(undefined), 30_000);
  assert.equal(reresolveDelayMs(10_000), 30_000);
  assert.equal(reresolveDelayMs(100_000), 100_000);
  assert.equal(reresolveDelayMs(3_600_000), 300_000);
});

test('a watched name is resolved again at once after a failed round and after a network change', () =>
  withDns(async (dns) => {
    dns.zone.set('peer.test', { A: { addrs: ['192.0.2.1'], ttl: 3600, delay: 0 } });
    const results: Resolution[] = [];
    const w = new NameWatcher('peer.test', 1, dns.lookup(), (r) => results.push(r));
    const settled = async (n: number) => {
      for (let i = 0; i < 100 && results.filter((r) => r.complete).length < n; i++)
        await new Promise((r) => setTimeout(r, 20));
    };
    try {
      w.start();
      await settled(1);
      dns.zone.set('peer.test', { A: { addrs: ['192.0.2.2'], ttl: 3600, delay: 0 } });
      w.failed();
      await settled(2);
      w.networkChanged();
      await settled(3);
      assert.deepEqual(
        results.filter((r) => r.complete).map((r) => show(r)[0]),
        ['192.0.2.1:1', '192.0.2.2:1', '192.0.2.2:1'],
      );
      assert.equal(dns.queries.filter((q) => q.type === TYPE_A).length, 3);
    } finally {
      w.stop();
    }
  }));
