// The unknown-index audit of test/lib/index-audit.ts on hand-written wire sequences: a clean
// race (one response, data on it), the loss a race with different timestamps causes (two
// responses, data on the first), the peer's own handshake deleting `current` while a `next`
// waits, and traffic the audit must ignore (the peer's own data, other hosts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditPeerIndices } from '../../lib/index-audit.js';
import type { TapEvent } from '../../lib/wire-tap.js';

const PEER = '192.0.2.2:51821';
const P1 = '198.51.100.1:40001';
const P2 = '198.51.100.1:40002';

let t = 0;
const init = (from: string, to: string, sender: number): TapEvent => ({
  type: 'init',
  t: t++,
  from,
  to,
  sender,
});
const resp = (from: string, to: string, sender: number, receiver: number): TapEvent => ({
  type: 'resp',
  t: t++,
  from,
  to,
  sender,
  receiver,
});
const data = (from: string, to: string, receiver: number): TapEvent => ({
  type: 'data',
  t: t++,
  from,
  to,
  receiver,
  counter: 0,
});

test('a race with one consumed initiation: data on its keypair is known', () => {
  const a = auditPeerIndices(
    [
      init(P1, PEER, 0xa1),
      init(P2, PEER, 0xa2), // a replay: the peer does not answer
      resp(PEER, P1, 0x51, 0xa1),
      data(P1, PEER, 0x51),
      data(PEER, P1, 0xa1),
      data(P2, PEER, 0x51), // the same keypair over another path: still known
    ],
    PEER,
  );
  assert.equal(a.checked, 2);
  assert.deepEqual(a.unknown, []);
  assert.equal(a.responses, 1);
});

test('two consumed initiations: data on the first response is dropped', () => {
  const a = auditPeerIndices(
    [
      init(P1, PEER, 0xa1),
      resp(PEER, P1, 0x51, 0xa1),
      init(P2, PEER, 0xa2), // newer timestamp, consumed: replaces next
      resp(PEER, P2, 0x52, 0xa2),
      data(P1, PEER, 0x51),
      data(P2, PEER, 0x52),
    ],
    PEER,
  );
  assert.equal(a.unknown.length, 1);
  assert.equal(a.unknown[0]?.receiver, 0x51);
});

test('confirmed keypairs rotate: current and previous stay known, older ones go', () => {
  const a = auditPeerIndices(
    [
      resp(PEER, P1, 1, 0xa1),
      data(P1, PEER, 1), // current = 1
      resp(PEER, P1, 2, 0xa2), // next = 2, previous deleted
      data(P1, PEER, 1), // current still works
      data(P1, PEER, 2), // confirmed: current = 2, previous = 1
      data(P1, PEER, 1), // previous still works
      resp(PEER, P1, 3, 0xa3), // previous (1) deleted
      data(P1, PEER, 1),
    ],
    PEER,
  );
  assert.deepEqual(
    a.unknown.map((e) => e.receiver),
    [1],
  );
  assert.equal(a.checked, 5);
});

test("the peer's own handshake, completed while a next waits, deletes current", () => {
  const a = auditPeerIndices(
    [
      resp(PEER, P1, 1, 0xa1),
      data(P1, PEER, 1), // current = 1
      resp(PEER, P1, 2, 0xa2), // next = 2
      init(PEER, P1, 7), // the peer initiates too
      resp(P1, PEER, 0xb7, 7), // current = 7, previous = 2, 1 deleted
      data(P1, PEER, 2),
      data(P1, PEER, 7),
      data(P1, PEER, 1),
      data('203.0.113.9:1', '203.0.113.10:2', 99), // not for the peer: ignored
    ],
    PEER,
  );
  assert.deepEqual(
    a.unknown.map((e) => e.receiver),
    [1],
  );
  assert.equal(a.checked, 4);
});

test('wgm rules: crossed handshakes end on the larger key’s, and nothing in flight is unknown', () => {
  // The peer (PEER) and the other side (P1) start rounds at once; each answers the other's and
  // then gets the answer to its own. The peer holds a session (0x10) from before.
  const crossing = (yields: boolean) => [
    init(PEER, P1, 0x10),
    resp(P1, PEER, 0xb0, 0x10), // the old session: the peer's index 0x10
    data(P1, PEER, 0x10),
    init(PEER, P1, 0x20), // the peer's round
    init(P1, PEER, 0xc0), // the other's round, crossing it
    resp(PEER, P1, 0x30, 0xc0), // the peer answers: next 0x30
    resp(P1, PEER, 0xb1, 0x20), // the answer to the peer's round: the crossing
    data(P1, PEER, 0x10), // in flight on the old session
    // The other side's end of the winning handshake: its own (the peer's 0x30) when the peer
    // yields, else the peer's (0x20).
    data(P1, PEER, yields ? 0x30 : 0x20),
  ];
  assert.deepEqual(auditPeerIndices(crossing(true), PEER, { yields: true }).unknown, []);
  assert.deepEqual(auditPeerIndices(crossing(false), PEER, { yields: false }).unknown, []);
  // The winner dropped `next` (0x30): the yielding side must never send on its half.
  const late = [...crossing(false), data(P1, PEER, 0x30)];
  const winning = auditPeerIndices(late, PEER, { yields: false });
  assert.deepEqual(
    winning.unknown.map((u) => u.receiver),
    [0x30],
  );
  const standard = auditPeerIndices(crossing(true), PEER);
  assert.deepEqual(
    standard.unknown.map((u) => u.receiver),
    [0x10],
    'standard: the old session goes',
  );
});

test('wgm rules: a response near the 1 s mark is judged with the slack of the tap’s timing', () => {
  // The peer answers an initiation 1,050 ms (tap time) after its `current` was made; its own
  // clock may have seen less than 1 s (it processed the response late), so `previous` may
  // have stayed: data on it is not counted. At 1,300 ms it is beyond any slack.
  const at = (e: TapEvent, ms: number): TapEvent => ({ ...e, t: ms });
  const run = (gap: number) =>
    auditPeerIndices(
      [
        at(resp(PEER, P1, 1, 0xa1), 0),
        at(data(P1, PEER, 1), 10), // current = 1
        at(init(PEER, P1, 0x20), 100),
        at(resp(P1, PEER, 0xb2, 0x20), 120), // current = 0x20 (made at 120), previous = 1
        at(init(P1, PEER, 0xc3), 120 + gap - 1),
        at(resp(PEER, P1, 3, 0xc3), 120 + gap), // keeps previous only if current is young
        at(data(P1, PEER, 1), 130 + gap),
      ],
      PEER,
      { yields: false },
    ).unknown.map((u) => u.receiver);
  assert.deepEqual(run(500), []);
  assert.deepEqual(run(1050), []);
  assert.deepEqual(run(1300), [1]);
});
