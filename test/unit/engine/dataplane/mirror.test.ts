// Endpoint selection's data-plane side (tx.ts): mirroring a peer's packets onto a second path,
// and reporting data sends the kernel refuses. Two data planes in namespaces (pair.ts); B has a
// second address, the "other path"; an iptables OUTPUT rule in A refuses the first one.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { PathAddr } from '../../../../src/engine/core/addr.js';
import { hostAddr } from '../../../lib/path-addr.js';
import { need } from '../../../lib/run.js';
import { ip } from '../../sys/netns.js';
import { makePair, until } from './pair.js';

const NET = 97;
const EPERM = 1;

/** `ping -c count -i interval` from `ns`: replies received and duplicates reported. */
function pingFrom(
  ns: string,
  to: string,
  count: number,
  interval = '0.1',
): { received: number; dups: number } {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', String(count), '-i', interval, '-W', '1', to],
    { encoding: 'utf8', timeout: 30_000 },
  );
  return {
    received: Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0),
    dups: Number(/\+(\d+) duplicates/.exec(r.stdout)?.[1] ?? 0),
  };
}

function iptables(ns: string, ...args: string[]): void {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'iptables', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`iptables ${args.join(' ')}: ${r.stderr}`);
}

test('refused data sends are reported (paced); a mirror carries the packets past a refused path, for a bounded time', async (t) => {
  if (!need(t, { root: true, commands: ['ip', 'ping', 'iptables'] })) return;
  const p = await makePair({ net: NET, tag: 'mir' });
  try {
    const errors: Error[] = [];
    p.dpA.on('error', (e) => errors.push(e));
    const refused: { peer: number; to: PathAddr; errno: number }[] = [];
    p.dpA.on('sendRefused', (peer, to, errno) => refused.push({ peer, to, errno }));
    ip(p.nsB, 'addr', 'add', `192.168.${NET}.3/24`, 'dev', p.vethB);
    const inside = `10.${NET}.0.2`;
    // A loaded host can lose the very first echo (workers still starting, neighbour
    // resolution): the tunnel works when one gets through within a few tries.
    let works = false;
    for (let i = 0; i < 5 && !works; i++) works = pingFrom(p.nsA, inside, 1).received === 1;
    assert.ok(works, 'the tunnel works');
    assert.equal(refused.length, 0);

    // The endpoint's path refused by the host: the send fails with EPERM.
    const rule = ['OUTPUT', '-d', `192.168.${NET}.2`, '-p', 'udp', '-j', 'REJECT'];
    iptables(p.nsA, '-A', ...rule);
    const flood = pingFrom(p.nsA, inside, 50, '0.01');
    assert.equal(flood.received, 0);
    assert.ok(await until(() => refused.length > 0));
    const r = refused[0]!;
    assert.equal(r.peer, p.peerOnA);
    assert.equal(r.errno, EPERM);
    assert.equal(r.to.address.join('.'), `192.168.${NET}.2`);
    // 50 refused sends in about half a second: one report per 100 ms at most.
    assert.ok(refused.length <= 10, `${refused.length} reports for 50 refused sends`);

    // Mirrored onto B's other address: the copies get through.
    const other = hostAddr(`192.168.${NET}.3`, p.dpB.port);
    p.dpA.setMirror(p.peerOnA, other, p.dpA.now() + 10_000);
    assert.equal(pingFrom(p.nsA, inside, 5).received, 5, 'through the mirrored path');

    // Both paths open: B gets each datagram twice and its replay window keeps one.
    iptables(p.nsA, '-D', ...rule);
    const both = pingFrom(p.nsA, inside, 5);
    assert.deepEqual(both, { received: 5, dups: 0 });

    // Stopped: the refused path alone again.
    iptables(p.nsA, '-A', ...rule);
    p.dpA.setMirror(p.peerOnA, undefined, 0);
    await p.dpA.settle();
    assert.equal(pingFrom(p.nsA, inside, 3).received, 0, 'mirror stopped');

    // A mirror ends at its time in the workers even without a word from the main thread.
    p.dpA.setMirror(p.peerOnA, other, p.dpA.now() + 400);
    await p.dpA.settle();
    assert.equal(pingFrom(p.nsA, inside, 2).received, 2, 'mirrored');
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(pingFrom(p.nsA, inside, 3).received, 0, 'the mirror ran out');
    assert.deepEqual(errors, []);
  } finally {
    await p.close();
  }
});
