// RFC 8305 name resolution for candidates, against a tiny DNS server on loopback written here:
// it answers A and AAAA questions from a table, each type after its own delay, with TTLs.

import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'node:test';
import { formatPath } from '../../../src/engine/core/addr.js';
import {
  type Lookup,
  literal,
  NameWatcher,
  type Resolution,
  reresolveDelayMs,
  resolveCandidates,
  systemLookup,
} from '../../../src/engine/resolve.js';

interface Answer {
  addrs: string[];
  ttl: number;
  delay: number;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

class TinyDns {
  readonly zone = new Map<string, { A?: Answer; AAAA?: Answer }>();
  readonly queries: { name: string; type: number; at: number }[] = [];
  private sock: Socket | undefined;
  port = 0;

  async start(): Promise<void> {
    const s = createSocket('udp4');
    this.sock = s;
    s.on('message', (q, from) => this.answer(q, from.port, from.address));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    this.port = s.address().port;
  }

  lookup(): Lookup {
    return systemLookup([`127.0.0.1:${this.port}`]);
  }

  private answer(q: Buffer, port: number, host: string): void {
    let off = 12;
    const labels: string[] = [];
    while (q[off]! > 0) {
      labels.push(q.subarray(off + 1, off + 1 + q[off]!).toString('ascii'));
      off += 1 + q[off]!;
    }
    off++;
    const type = q.readUInt16BE(off);
    const question = q.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    this.queries.push({ name, type, at: performance.now() });
    const rec = this.zone.get(name)?.[type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : ('none' as 'A')];
    const answers = (rec?.addrs ?? []).map((a) => {
      const rdata = type === TYPE_A ? Buffer.from(a.split('.').map(Number)) : Buffer.from(v6(a));
      const head = Buffer.alloc(12);
      head.writeUInt16BE(0xc00c, 0); // the question's name
      head.writeUInt16BE(type, 2);
      head.writeUInt16BE(1, 4);
      head.writeUInt32BE(rec!.ttl, 6);
      head.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([head, rdata]);
    });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.readUInt16BE(0), 0);
    // QR, RD as asked, RA; NXDOMAIN for names not in the zone.
    header.writeUInt16BE(0x8180 | (this.zone.has(name) ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const reply = Buffer.concat([header, question, ...answers]);
    setTimeout(() => this.sock?.send(reply, port, host), rec?.delay ?? 0);
  }

  close(): void {
    this.sock?.close();
  }
}

function v6(text: string): number[] {
  const [h = '', t = ''] = text.split('::');
  const w = (s: string) => (s ? s.split(':').map((x) => Number.parseInt(x, 16)) : []);
  const hw = w(h);
  const tw = w(t);
  const all = [...hw, ...new Array<number>(8 - hw.length - tw.length).fill(0), ...tw];
  return all.flatMap((x) => [x >> 8, x & 0xff]);
}

const show = (r: Resolution) => r.addrs.map(formatPath);

async function withDns(fn: (dns: TinyDns) => Promise<void>): Promise<void> {
  const dns = new TinyDns();
  await dns.start();
  try {
    await fn(dns);
  } finally {
    dns.close();
  }
}

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
