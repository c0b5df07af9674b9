// A live exchange with a stock wireguard-go (as root, in a private network namespace): the Core
// completes a handshake, wireguard-go pings through the tunnel and gets our answer, both sides
// count the same bytes, and the recording replays byte for byte offline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { need } from '../lib/run.js';
import { recordHandshake } from './record-handshake.js';
import { replay } from './record-handshake-replay.js';

for (const mode of ['initiator', 'responder'] as const) {
  test(`wgm Core (${mode}) ↔ wireguard-go: handshake, ping through the tunnel, exact counters, replayable`, async (t) => {
    if (!need(t, { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping'] })) return;
    const rec = await recordHandshake(mode);
    assert.equal(rec.pingExitStatus, 0, 'the ping through the tunnel was answered');
    const kinds = rec.outputs.map((o) => `${o.kind}:${o.hex.length / 2}`);
    assert.deepEqual(
      kinds.slice(0, 2),
      mode === 'initiator' ? ['send:148', 'send:32'] : ['send:92', 'writeTun:84'],
    );
    const { outputs, core } = replay(rec);
    assert.deepEqual(outputs, rec.outputs);
    const fields = rec.theirDump.split('\t');
    const peer = core.getDevice().peers[0]!;
    assert.ok(Number(fields[4]) > 0, 'wireguard-go has a latest handshake');
    assert.equal(String(peer.txBytes), fields[5]);
    assert.equal(String(peer.rxBytes), fields[6]);
  });
}
