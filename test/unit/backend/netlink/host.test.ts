// The kernel backend on this machine's own kernel, with stock wg as the oracle. Hosts without
// wireguard.ko (this development machine) must answer "Protocol not supported" and never
// crash; hosts with it (CI runners) must answer what wg answers for a missing interface.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelGet, kernelList, kernelSet, kernelStatus } from '../../../../src/backend/netlink/index.js';
import { isWgError } from '../../../../src/model/errors.js';
import { newDevice } from '../../../../src/model/index.js';
import { need, run } from '../../../lib/run.js';

const MISSING = `wgmnl${process.pid % 100000}`;

/** What stock wg says about a kernel interface that does not exist (its strerror text). */
function wgSays(args: string[]): string {
  const r = run('wg', args);
  assert.equal(r.status, 1, r.stderr);
  const m = /^Unable to (?:access|modify) interface: (.*)$/m.exec(r.stderr);
  assert.ok(m, r.stderr);
  return m[1]!;
}

async function rejection(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    assert.ok(isWgError(e), String(e));
    return e;
  }
  return assert.fail('expected a rejection');
}

test('kernelStatus tells whether the wireguard family resolves, with errno 93 when it does not', async () => {
  const s = await kernelStatus();
  if (s.available) assert.equal(s.reason, undefined);
  else assert.deepEqual(s, { available: false, reason: 'Protocol not supported', errno: 93 });
});

test('kernelGet of a missing interface fails with the same text as wg show', async (t) => {
  if (!need(t, { commands: ['wg'] })) return;
  const e = await rejection(kernelGet(MISSING));
  assert.equal(e.message, wgSays(['show', MISSING]));
  assert.equal(e.code, 'backend');
  assert.deepEqual(e.where, { iface: MISSING, backend: 'kernel' });
  assert.ok(e.errno === 93 || e.errno === 19 || e.errno === 1, `errno ${e.errno}`);
  assert.equal((await kernelStatus()).available, e.errno !== 93);
});

test('kernelSet of a missing interface fails with the same text as wg set', async (t) => {
  if (!need(t, { commands: ['wg'] })) return;
  const e = await rejection(kernelSet(MISSING, newDevice({ listenPort: 1 })));
  assert.equal(e.message, wgSays(['set', MISSING, 'listen-port', '1']));
});

test('kernelGet refuses names of 16 bytes or more, as wg does', async () => {
  const e = await rejection(kernelGet('a'.repeat(16)));
  assert.equal(e.message, 'File name too long');
  assert.equal(e.errno, 36);
});

test('kernelList names the wireguard links ip(8) lists, in the same order', async (t) => {
  if (!need(t, { commands: ['ip'] })) return;
  const ip = run('ip', ['-o', 'link', 'show', 'type', 'wireguard']);
  assert.equal(ip.status, 0, ip.stderr);
  const expected = ip.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(': ')[1]!.split('@')[0]!);
  assert.deepEqual(await kernelList(), expected);
});
