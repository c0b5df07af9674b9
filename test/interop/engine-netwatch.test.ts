// wgm-engine hears of local network changes from rtnetlink (src/engine/net-watch.ts), in the
// namespace it started in, toward a stock wireguard-go through two relay paths
// (test/lib/select-lab.ts), its verbose log read as it runs:
//   - the tunnel interface's own addresses, routes and MTU, and changes in another namespace,
//     are no network change;
//   - a route added in its namespace (which the old polling of addresses never saw) and then an
//     address each make one change (one log line per burst of notifications), seen well
//     within a second, and a new selection round (its initiations) at once or, within a
//     handshake's settle time, when that is over;
//   - moved to another namespace (`ip link set IF netns X`), the interface takes no watching
//     along: the move is no change, nor is a change where it went; its birth namespace still
//     counts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab, sleep, waitFor } from '../lib/netns.js';
import { need } from '../lib/run.js';
import { INNER_R, selectLab, startPing } from '../lib/select-lab.js';

const CHANGED = /Network changed \(([^)]*)\): racing the endpoints of every peer again/g;
const INITIATION = / - Sending handshake initiation/;

/** Generous for a loaded 2-core machine; the debounce is 150 ms and `ip` returns at once. */
const BOUND_MS = 1000;

test('network changes come from rtnetlink: the own interface is no change; a route or an address starts a round', async (t) => {
  if (!need(t, { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping'] })) return;
  process.env['LOG_LEVEL'] = 'verbose';
  const lab = new Lab('nw');
  t.after(() => lab.cleanup());
  const s = await selectLab(lab, [{ delay: 5 }, { delay: 10 }], { subnet: 232 });
  const log = () => s.initiator.output();
  assert.doesNotMatch(log(), /no rtnetlink notifications/, 'the engine fell back to polling');

  const ping = startPing(lab, s.nsI, INNER_R, 0.2);
  t.after(() => ping.stop());
  await waitFor('first traffic', () => ping.replies.length > 0, 20_000);
  await sleep(1500);
  const changesSince = (mark: number) => [...log().slice(mark).matchAll(CHANGED)].map((m) => m[1]);

  // The tunnel's own changes (what wg-quick does after starting it) and another namespace's.
  let mark = log().length;
  const dev = s.initiator.ifname;
  lab.ip(s.nsI, 'addr', 'add', '10.78.0.1/24', 'dev', dev);
  lab.ip(s.nsI, 'addr', 'add', 'fd78::1/64', 'dev', dev);
  lab.ip(s.nsI, 'route', 'add', '10.79.0.0/16', 'dev', dev);
  lab.ip(s.nsI, 'route', 'add', '10.80.0.0/16', 'dev', dev, 'table', '51820');
  lab.ip(s.nsI, 'link', 'set', dev, 'mtu', '1400');
  lab.ip(s.nsM, 'route', 'add', '198.51.100.0/24', 'via', '192.168.232.1');
  lab.ip(s.nsM, 'addr', 'add', '192.0.2.99/32', 'dev', 'lo');
  await sleep(BOUND_MS + 500);
  assert.deepEqual(changesSince(mark), [], `changes of ${dev} or of another namespace counted`);

  // A route, then an address, in the engine's namespace.
  for (const [what, args] of [
    ['a route', ['route', 'add', '203.0.113.0/24', 'via', '192.168.232.2']],
    ['an address', ['addr', 'add', '192.168.232.77/24', 'dev', s.initiatorVeth]],
  ] as const) {
    mark = log().length;
    const before = Date.now();
    lab.ip(s.nsI, ...args);
    const done = Date.now();
    await waitFor(
      `a network change after ${what} was added (log: ${log().slice(mark)})`,
      () => log().slice(mark).search(CHANGED) >= 0,
      10_000,
      10,
    );
    const took = Date.now() - done;
    t.diagnostic(`${what}: change seen ${took} ms after \`ip\` returned (it ran ${done - before} ms)`);
    assert.ok(took < BOUND_MS, `${what}: change seen after ${took} ms (bound ${BOUND_MS})`);
    // The round follows at once, or, within the settle time of a handshake (a latency probe's,
    // say), when that is over (core/select.ts onNetworkChange): 1 s more at most.
    await waitFor(
      `a round after the change (log: ${log().slice(mark)})`,
      () => {
        const after = log().slice(mark);
        return INITIATION.test(after.slice(after.search(CHANGED)));
      },
      BOUND_MS + 2000,
      10,
    );
    // Also past the settle time of the handshake this round made: a change within it races
    // only when it is over (core/select.ts onNetworkChange), which is not what is timed here.
    await sleep(1500);
    assert.equal(changesSince(mark).length, 1, `one change per burst: ${changesSince(mark).join(' | ')}`);
  }
  assert.ok(ping.replies.length > 5, 'traffic kept flowing');
  await ping.stop();

  // The interface moves to another namespace (its addresses and routes go, its link leaves):
  // no change. The socket stays where the engine started, with the UDP socket: a route added
  // there still counts, one added where the interface now is does not.
  mark = log().length;
  lab.moveLink(s.nsI, dev, s.nsM);
  lab.ip(s.nsM, 'link', 'set', dev, 'up');
  lab.ip(s.nsM, 'addr', 'add', '10.91.0.1/24', 'dev', dev);
  await sleep(BOUND_MS + 500);
  assert.deepEqual(changesSince(mark), [], 'the move, or a change where the interface went, counted');
  lab.ip(s.nsI, 'route', 'add', '203.0.114.0/24', 'via', '192.168.232.2');
  await waitFor(
    `a change after the move (log: ${log().slice(mark)})`,
    () => changesSince(mark).length > 0,
    5000,
  );
  assert.deepEqual(changesSince(mark), [
    `route 203.0.114.0/24 via 192.168.232.2 dev ${s.initiatorVeth} added`,
  ]);
});
