// Replays, offline and byte for byte, exchanges recorded against a stock wireguard-go
// (test/fixtures/handshake/*.json, made by test/interop/record-handshake.ts): one where the
// Core initiates, one where wireguard-go does.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tai64n } from '../../../../src/crypto/tai64n.js';
import { publicKeyOf } from '../../../../src/crypto/x25519.js';
import { CookieGenerator } from '../../../../src/engine/core/cookie.js';
import { createInitiation, dh } from '../../../../src/engine/core/handshake.js';
import { pathToText } from '../../../../src/engine/endpoint-text.js';
import { type Recording, replay } from '../../../interop/record-handshake-replay.js';
import { ROOT } from '../../../lib/run.js';

const load = (name: string) =>
  JSON.parse(readFileSync(join(ROOT, 'test/fixtures/handshake', name), 'utf8')) as Recording;
const rec = load('wireguard-go.json');
const recResponder = load('wireguard-go-initiates.json');
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (const r of [rec, recResponder]) {
  test(`the recorded exchange replays byte for byte (Core as ${r.mode})`, () => {
    const { outputs, core } = replay(r);
    assert.equal(outputs.length, r.outputs.length);
    for (let i = 0; i < outputs.length; i++) assert.deepEqual(outputs[i], r.outputs[i], `output ${i}`);
    // wireguard-go's transport packet decrypted to the ICMP echo request `ping` sent.
    const packet = hex(outputs.find((o) => o.kind === 'writeTun')!.hex);
    assert.equal(packet[9], 1, 'ICMP');
    assert.equal(packet[20], 8, 'echo request');
    assert.equal([...packet.subarray(12, 16)].join('.'), r.theirTunnelIP);
    assert.equal([...packet.subarray(16, 20)].join('.'), r.ourTunnelIP);
    assert.equal(r.pingExitStatus, 0, 'wireguard-go accepted our reply: the ping succeeded');
    // Our counters are wireguard-go's, mirrored: its rx is our tx and the other way round.
    const fields = r.theirDump.split('\t');
    const peer = core.getDevice().peers[0]!;
    assert.equal(String(peer.txBytes), fields[5]);
    assert.equal(String(peer.rxBytes), fields[6]);
    assert.ok(peer.lastHandshake!.sec > 0n);
  });
}

test('our initiation is the handshake of the whitepaper with the recorded ephemeral and timestamp', () => {
  const ours = hex(rec.ourPrivateKey);
  const theirs = hex(rec.theirPublicKey);
  const initiate = rec.inputs.find((i) => i.kind === 'initiate')!;
  const made = createInitiation({
    localPrivate: ours,
    localPublic: publicKeyOf(ours),
    remotePublic: theirs,
    staticStatic: dh(ours, theirs)!,
    ephemeralPrivate: hex(rec.random[0]!.hex),
    timestamp: tai64n(BigInt(rec.wallEpochNs) + BigInt(Math.round(initiate.at * 1e6))),
    senderIndex: Buffer.from(hex(rec.random[1]!.hex)).readUInt32LE(0),
  })!;
  new CookieGenerator(theirs).addMacs(made.message, '', 0);
  const sent = rec.outputs[0]!;
  assert.equal(sent.kind, 'send');
  assert.equal(toHex(made.message), sent.hex);
});

test('as initiator: a keepalive confirms the session right after the response', () => {
  const { outputs } = replay(rec);
  assert.deepEqual(
    outputs.map((o) => `${o.kind}:${o.hex.length / 2}`),
    ['send:148', 'send:32', 'writeTun:84', 'send:128'],
  );
});

test('as responder: the response, then the staged ping confirms the session', () => {
  const { outputs, core } = replay(recResponder);
  assert.deepEqual(
    outputs.map((o) => `${o.kind}:${o.hex.length / 2}`),
    ['send:92', 'writeTun:84', 'send:128'],
  );
  // The endpoint was learnt from wireguard-go's initiation.
  const active = core.getDevice().peers[0]!.activeEndpoint;
  assert.deepEqual(
    active && pathToText(active),
    recResponder.inputs[1]!.kind === 'datagram' ? recResponder.inputs[1]!.from : undefined,
  );
});

test('a response with one bit flipped is refused (the replay can fail)', () => {
  const bad = structuredClone(rec);
  const i = bad.inputs.findIndex((x) => x.kind === 'datagram');
  const input = bad.inputs[i]! as { hex: string };
  const b = hex(input.hex);
  b[50]! ^= 1;
  input.hex = toHex(b);
  const { outputs, core } = replay({ ...bad, inputs: bad.inputs.slice(0, i + 1) });
  assert.equal(outputs.length, 1, 'only our initiation');
  assert.equal(core.getDevice().peers[0]!.lastHandshake!.sec, 0n);
});
