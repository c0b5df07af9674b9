// Endpoint selection over real paths: wgm-engine initiates toward a stock wireguard-go that has
// one peer and no endpoint for it (it follows by roaming), through three paths, each a delay
// relay in a middle namespace (test/lib/select-lab.ts). The initiator's peer lists the three
// relays as `Endpoint` lines. What issue 10 asks of selection, checked with bounds generous
// enough for a loaded 2-core machine but below what round-robin over the candidates takes
// (stock REKEY_TIMEOUT, 5 s, per unanswered candidate); the tight figures are measured in
// `npm run bench` (test/bench/select.ts):
//   - first and last candidates dead from the start: traffic flows;
//   - the active path dies under steady pings: traffic comes back;
//   - three live paths (slowest listed first, and fastest first): the active endpoint ends on
//     the fastest and stays;
//   - a preferred path that was dead comes back and is used again;
//   - repeated forced races lose no keypair at the responder (test/lib/index-audit.ts);
//   - the strict `EndpointPolicy = preference`: three live paths, slowest listed first, the
//     first carries the traffic and keeps it; when it dies the second takes over; revived, the
//     first is used again within one upgrade interval.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UPGRADE_INTERVAL_MS } from '../../src/engine/core/select-constants.js';
import { auditPeerIndices } from '../lib/index-audit.js';
import { Lab, sleep, waitFor } from '../lib/netns.js';
import { need, WGM } from '../lib/run.js';
import {
  activeEndpoint,
  INNER_R,
  type PathSpec,
  type SelectLab,
  selectLab,
  startPing,
  watchEndpoint,
} from '../lib/select-lab.js';
import { startTap } from '../lib/wire-tap.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping'] };

async function setup(
  t: import('node:test').TestContext,
  tag: string,
  specs: PathSpec[],
  policy?: 'preference',
): Promise<{ lab: Lab; s: SelectLab } | undefined> {
  if (!need(t, NEEDS)) return undefined;
  const lab = new Lab(tag);
  t.after(() => lab.cleanup());
  return { lab, s: await selectLab(lab, specs, { policy }) };
}

/** Stock `wg show IF endpoints`: the one endpoint a stock tool sees on the initiator; on the responder, where it sends (the path it last heard from). */
function stockEndpoint(lab: Lab, s: SelectLab, side: 'initiator' | 'responder' = 'initiator'): string {
  const ns = side === 'initiator' ? s.nsI : s.nsR;
  return lab.wg(ns, ['show', s[side].ifname, 'endpoints']).trim().split('\t')[1] ?? '';
}

interface Candidate {
  endpoint: string;
  state: string;
  rttMs: number | null;
}

/** The peer's candidates from `wgm show IF --json`. */
function candidates(lab: Lab, s: SelectLab): Candidate[] {
  const r = lab.exec(s.nsI, process.execPath, [WGM, 'show', s.initiator.ifname, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { interfaces: { peers: { candidates: Candidate[] }[] }[] };
  return j.interfaces[0]?.peers[0]?.candidates ?? [];
}

test('first and last of three candidates dead from the start: the tunnel carries traffic', async (t) => {
  const x = await setup(t, 'sa', [{ delay: 5, dead: true }, { delay: 5 }, { delay: 5, dead: true }]);
  if (!x) return;
  const { lab, s } = x;
  const ping = startPing(lab, s.nsI, INNER_R);
  t.after(() => ping.stop());
  // Target 1.5 s (bench). Round-robin needs two REKEY_TIMEOUTs less one; 4 s tells them apart.
  await waitFor('a reply through the middle path', () => ping.replies.length > 0, 20_000);
  const first = ping.replies[0]!.t - ping.firstSent();
  t.diagnostic(`first reply ${first.toFixed(0)} ms after the first echo`);
  assert.ok(first < 4000, `first traffic after ${first.toFixed(0)} ms (bound 4000, target 1500)`);
  assert.equal(await activeEndpoint(s.initiator.ifname), s.paths[1]!.endpoint);
  assert.equal(stockEndpoint(lab, s), s.paths[1]!.endpoint, 'stock wg show sees the live path');
  assert.equal(stockEndpoint(lab, s, 'responder'), s.paths[1]!.upstream, 'the responder answers over it');
});

test('the active path dies under steady pings: traffic comes back over another', async (t) => {
  const x = await setup(t, 'sb', [{ delay: 5 }, { delay: 15 }, { delay: 25 }]);
  if (!x) return;
  const { lab, s } = x;
  const ping = startPing(lab, s.nsI, INNER_R);
  t.after(() => ping.stop());
  await waitFor('first traffic', () => ping.replies.length > 0, 20_000);
  await sleep(4000); // the latency probes after connecting are done
  const active = await activeEndpoint(s.initiator.ifname);
  const dead = s.paths.find((p) => p.endpoint === active);
  assert.ok(dead, `active endpoint ${active} is one of the paths`);
  t.diagnostic(`active before the cut: path ${dead.index} (${[5, 15, 25][dead.index]} ms)`);
  await dead.command('both blackhole=1');
  const cut = Date.now();
  // Target 3 s, aim 1.5 s (bench). Stock WireGuard never moves; bound 8 s.
  const back = await waitFor(
    'a reply to an echo sent after the cut',
    () => ping.firstReplyAfter(cut),
    30_000,
  );
  const outage = back!.t - cut;
  t.diagnostic(`traffic back ${outage.toFixed(0)} ms after path ${dead.index} died`);
  assert.ok(outage < 8000, `traffic back after ${outage.toFixed(0)} ms (bound 8000, target 3000)`);
  const now = await activeEndpoint(s.initiator.ifname);
  assert.notEqual(now, dead.endpoint, 'the active endpoint moved off the dead path');
  assert.equal(stockEndpoint(lab, s), now);
  // And it keeps working: most echoes of the next 3 s are answered.
  const from = Date.now();
  await sleep(3000);
  const answered = ping.replies.filter((r) => r.t - r.rttMs > from && r.t <= from + 3000).length;
  assert.ok(answered >= 30, `only ${answered} of ~60 echoes answered after the failover`);
});

// Slowest first (the brief's case: stock wg, keeping the last line, happens to be right), and
// fastest first with closer delays (the first path must keep the traffic: a probe that measures
// a later path faster than the first handshake measured the first must not win for long).
for (const [name, delays] of [
  ['60/30/5 ms, slowest listed first', [60, 30, 5]],
  ['5/15/25 ms, fastest listed first', [5, 15, 25]],
] as const) {
  test(`three live paths of ${name}: settles on the fastest and stays`, async (t) => {
    const x = await setup(
      t,
      'sc',
      delays.map((delay) => ({ delay })),
    );
    if (!x) return;
    const { lab, s } = x;
    const watch = watchEndpoint(s.initiator.ifname);
    const ping = startPing(lab, s.nsI, INNER_R);
    t.after(async () => {
      await ping.stop();
      await watch.stop();
    });
    await waitFor('first traffic', () => ping.replies.length > 0, 20_000);
    const connected = ping.replies[0]!.t;
    const best = (delays as readonly number[]).indexOf(Math.min(...delays));
    const fast = s.paths[best]!.endpoint;
    await sleep(Math.max(0, connected + 30_000 - Date.now()));
    await watch.stop();
    const settled = watch.settledOn(fast);
    const log = watch.changes
      .map((c) => `${((c.t - connected) / 1000).toFixed(2)} s ${c.endpoint}`)
      .join(', ');
    t.diagnostic(`active endpoint over 30 s: ${log}`);
    assert.ok(settled, `not on the 5 ms path at the end: ${log}`);
    const at = settled.t - connected;
    // Target 10 s (bench); bound 20 s.
    assert.ok(at < 20_000, `on the fastest path for good ${at.toFixed(0)} ms after connecting (bound 20000)`);
    assert.ok(
      watch.switches() <= 2,
      `${watch.switches()} switches in 30 s (at most one per faster path): ${log}`,
    );
    assert.equal(stockEndpoint(lab, s), fast, 'stock wg show sees the fastest path');
    // The pings' RTT shows the path really used: 2 × 5 ms plus the relay, not 2 × 15 or more.
    const last = ping.replies.slice(-20);
    const minRtt = Math.min(...last.map((r) => r.rttMs));
    assert.ok(minRtt < 28, `recent ping RTT ${minRtt} ms is not the 5 ms path's`);
    // `wgm show` lists every candidate, the fastest active, with an RTT measured for it.
    const c = candidates(lab, s);
    assert.deepEqual(
      c.map((x) => x.endpoint),
      s.paths.map((p) => p.endpoint),
    );
    assert.equal(c.find((x) => x.state === 'active')?.endpoint, fast, JSON.stringify(c));
    const rtt = c[best]?.rttMs;
    assert.ok(
      typeof rtt === 'number' && rtt >= 9,
      `candidate RTT of the 5 ms path: ${rtt} (≥ 10 ms expected)`,
    );
  });
}

test('a preferred path that was dead comes back and is used again', async (t) => {
  const x = await setup(t, 'sd', [{ delay: 5, dead: true }, { delay: 30 }, { delay: 60 }]);
  if (!x) return;
  const { lab, s } = x;
  const ping = startPing(lab, s.nsI, INNER_R);
  t.after(() => ping.stop());
  await waitFor('first traffic', () => ping.replies.length > 0, 20_000);
  await sleep(5000);
  // Which live path carries it is the settling tests' concern; here only that it is a live one.
  const before = await activeEndpoint(s.initiator.ifname);
  assert.ok(before === s.paths[1]!.endpoint || before === s.paths[2]!.endpoint, `on a live path: ${before}`);
  t.diagnostic(`active before the preferred path revived: ${before}`);
  await s.paths[0]!.command('both blackhole=0');
  const revived = Date.now();
  // Within one upgrade interval (60 s) under steady traffic; bound 90 s.
  await waitFor(
    'the preferred path to be active again',
    async () => (await activeEndpoint(s.initiator.ifname)) === s.paths[0]!.endpoint,
    90_000,
    100,
  );
  t.diagnostic(`back on the preferred path ${((Date.now() - revived) / 1000).toFixed(1)} s after it revived`);
  // The responder's endpoint is the source of the last packet it authenticated: it follows
  // once data over this path reaches it, which can be after the initiator switched.
  await waitFor(
    'the responder to follow',
    () => stockEndpoint(lab, s, 'responder') === s.paths[0]!.upstream,
    3000,
    100,
  );
  const from = Date.now();
  await sleep(3000);
  const answered = ping.replies.filter((r) => r.t - r.rttMs > from).length;
  assert.ok(answered >= 30, `only ${answered} of ~60 echoes answered on the preferred path`);
  assert.equal(await activeEndpoint(s.initiator.ifname), s.paths[0]!.endpoint, 'and stays there');
});

test('repeated forced races lose no keypair at the responder', async (t) => {
  const x = await setup(t, 'se', [
    { delay: 5, jitter: 10 },
    { delay: 8, jitter: 10 },
    { delay: 12, jitter: 10 },
  ]);
  if (!x) return;
  const { lab, s } = x;
  const tap = await startTap(lab, s.nsR, s.responderVeth, { afterHandshakes: true });
  const ping = startPing(lab, s.nsI, INNER_R);
  t.after(() => ping.stop());
  await waitFor('first traffic', () => ping.replies.length > 0, 20_000);
  await sleep(3000);
  // Each round cuts the active path, until traffic comes back over another path or 6 s pass,
  // then heals it. Mostly the reverse direction only: the initiation over the cut path reaches
  // the responder and is consumed, its response is lost, and the same round's initiations over
  // the other paths arrive after it (the case that kills a keypair when their timestamps
  // differ). A cut both ways or forward only lets one initiation of the round arrive.
  const cuts = [
    'rev blackhole=1',
    'rev blackhole=1',
    'both blackhole=1',
    'rev blackhole=1',
    'fwd blackhole=1',
  ];
  let recovered = 0;
  const ROUNDS = 12;
  for (let i = 0; i < ROUNDS; i++) {
    const active = await activeEndpoint(s.initiator.ifname);
    const path = s.paths.find((p) => p.endpoint === active) ?? s.paths[0]!;
    await path.command(cuts[i % cuts.length]!);
    const cut = Date.now();
    const back = await waitFor('traffic', () => ping.firstReplyAfter(cut), 6000).catch(() => undefined);
    if (back) recovered++;
    await path.command('both blackhole=0');
    await sleep(2500);
  }
  await ping.stop();
  await sleep(500);
  const audit = auditPeerIndices(tap.events, s.responderAddr);
  // Races as the responder saw them: initiations over two or more paths within 1 s.
  const inits = tap.events.filter((e) => e.type === 'init' && e.to === s.responderAddr);
  let races = 0;
  for (let i = 0; i < inits.length; ) {
    let j = i;
    while (j + 1 < inits.length && inits[j + 1]!.t - inits[i]!.t < 1000) j++;
    if (new Set(inits.slice(i, j + 1).map((e) => (e.type === 'init' ? e.from : ''))).size >= 2) races++;
    i = j + 1;
  }
  t.diagnostic(
    `${ROUNDS} cuts, traffic back within 6 s after ${recovered}; ${inits.length} initiations, ${races} races, ` +
      `${audit.responses} responses; ${audit.checked} data indices checked, ${audit.unknown.length} unknown`,
  );
  assert.deepEqual(audit.unknown, [], 'transport packets the responder drops for an unknown index');
  assert.ok(audit.checked > 0, 'the tap saw transport data');
  assert.ok(races >= 5, `only ${races} races reached the responder: the test did not test racing`);
});

test('strict preference, three live paths slowest first: the first wins and stays, fails over to the second, comes back', async (t) => {
  const x = await setup(t, 'sf', [{ delay: 60 }, { delay: 30 }, { delay: 5 }], 'preference');
  if (!x) return;
  const { lab, s } = x;
  const [first, second] = [s.paths[0]!.endpoint, s.paths[1]!.endpoint];
  const watch = watchEndpoint(s.initiator.ifname);
  const ping = startPing(lab, s.nsI, INNER_R);
  t.after(async () => {
    await ping.stop();
    await watch.stop();
  });
  await waitFor('first traffic', () => ping.replies.length > 0, 20_000);
  const connected = ping.replies[0]!.t;
  const trace = () =>
    watch.changes.map((c) => `${((c.t - connected) / 1000).toFixed(2)} s ${c.endpoint}`).join(', ');
  // The most preferred live path within 10 s, and no switch at all over the next ~30 s: the
  // faster paths are never probed while the first one lives.
  await sleep(Math.max(0, connected + 30_000 - Date.now()));
  const settled = watch.settledOn(first);
  t.diagnostic(`active endpoint over 30 s: ${trace()}`);
  assert.ok(settled, `not on the first (most preferred) path: ${trace()}`);
  assert.ok(settled.t - connected < 10_000, `on the first path ${settled.t - connected} ms after connecting`);
  assert.equal(watch.switches(), 0, `switches while every path lived: ${trace()}`);
  assert.equal(stockEndpoint(lab, s), first, 'stock wg show sees the preferred path');
  assert.equal(candidates(lab, s).find((c) => c.state === 'active')?.endpoint, first);

  // The first path dies: the second (next in preference, not the fastest) carries the traffic.
  await s.paths[0]!.command('both blackhole=1');
  const cut = Date.now();
  const back = await waitFor(
    'a reply to an echo sent after the cut',
    () => ping.firstReplyAfter(cut),
    30_000,
  );
  t.diagnostic(`traffic back ${(back!.t - cut).toFixed(0)} ms after the first path died`);
  assert.ok(back!.t - cut < 8000, `traffic back after ${(back!.t - cut).toFixed(0)} ms (bound 8000)`);
  await waitFor(
    'the second path to be active',
    async () => (await activeEndpoint(s.initiator.ifname)) === second,
    5000,
  );
  await sleep(2000);
  assert.equal(await activeEndpoint(s.initiator.ifname), second, `and it stays there: ${trace()}`);

  // Revived, the first path is used again within one upgrade interval (its sweep comes every
  // UPGRADE_INTERVAL_MS after connecting, under traffic): about 25 s into this one here.
  await s.paths[0]!.command('both blackhole=0');
  const revived = Date.now();
  await waitFor(
    'the first path to be active again',
    async () => (await activeEndpoint(s.initiator.ifname)) === first,
    UPGRADE_INTERVAL_MS + 10_000,
    100,
  );
  const took = Date.now() - revived;
  t.diagnostic(`back on the first path ${(took / 1000).toFixed(1)} s after it revived; ${trace()}`);
  assert.ok(
    took <= UPGRADE_INTERVAL_MS + 5000,
    `back after ${took} ms (one upgrade interval: ${UPGRADE_INTERVAL_MS})`,
  );
  // The responder follows once data sent over the first path (60 ms one way) reaches it; until
  // then the last packets it got came over the faster second one.
  await waitFor(
    'the responder to follow',
    () => stockEndpoint(lab, s, 'responder') === s.paths[0]!.upstream,
    3000,
    100,
  );
  const from = Date.now();
  await sleep(2000);
  assert.ok(ping.replies.filter((r) => r.t - r.rttMs > from).length >= 20, 'traffic flows on the first path');
});
