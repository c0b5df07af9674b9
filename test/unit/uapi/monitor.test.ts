// The wgm_monitor operation: the event line codec (malformed lines are EPROTO), and the engine's
// UAPI server streaming events to one client over a real unix socket (a device that emits
// events on demand), while a server whose device cannot stream treats it as an unknown
// operation, as wireguard-go does (test/interop/monitor.test.ts runs the client, wgm monitor).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Logger } from '../../../src/engine/log.js';
import { type UapiDevice, UapiServer } from '../../../src/engine/uapi-server.js';
import { isWgError } from '../../../src/model/errors.js';
import { newDevice } from '../../../src/model/index.js';
import { decodePathEvent, encodePathEvent, type PathEvent } from '../../../src/uapi/monitor.js';

const PEER = 'ab'.repeat(32);

test('path event lines: round trip, and EPROTO for anything else', () => {
  const ev: PathEvent = {
    peer: PEER,
    from: '192.0.2.1:1',
    to: '[2001:db8::1]:2',
    reason: 'roamed',
    at: 1764757200123,
  };
  const line = encodePathEvent(ev);
  assert.equal(
    line,
    `wgm_path=peer=${PEER} from=192.0.2.1:1 to=[2001:db8::1]:2 reason=roamed at=1764757200123\n`,
  );
  assert.deepEqual(decodePathEvent(line.slice(0, -1)), ev);
  const none = { peer: PEER, to: '192.0.2.1:1', reason: 'two words', at: 5 };
  assert.deepEqual(decodePathEvent(encodePathEvent(none).slice(0, -1)), { ...none, reason: 'two-words' });
  for (const bad of [
    '',
    'errno=0',
    `wgm_path=peer=${PEER} from=- to=x reason=r`,
    `wgm_path=peer=${PEER.slice(2)} from=- to=x reason=r at=1`,
    `wgm_path=peer=${PEER.toUpperCase()} from=- to=x reason=r at=1`,
    `wgm_path=peer=${PEER} from=- to= reason=r at=1`,
    `wgm_path=peer=${PEER} from=- to=x reason=r at=-1`,
    `wgm_path=peer=${PEER} from=- to=x reason=r at=1e3`,
    `wgm_path=peer=${PEER} from=- to=x reason=r at=1 at=2`,
    `wgm_path=peer=${PEER}  from=- to=x reason=r at=1`,
    `wgm_path=peer=${PEER} from=- to=x reason=r at=1 junk`,
  ]) {
    assert.throws(
      () => decodePathEvent(bad),
      (e) => isWgError(e) && e.errno === 71,
      JSON.stringify(bad),
    );
  }
});

class Emitting implements UapiDevice {
  private fns = new Set<(ev: PathEvent) => void>();
  get() {
    return { device: newDevice(), ext: { capabilities: ['monitor'] } };
  }
  async set() {
    return 0;
  }
  onPath(fn: (ev: PathEvent) => void) {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  emit(ev: PathEvent) {
    for (const f of this.fns) f(ev);
  }
  get listeners() {
    return this.fns.size;
  }
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('the server streams events to a monitoring client and forgets it when it closes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-mon-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The client opens /var/run/wireguard/IF.sock; here the server gets a socket of its own.
  const dev = new Emitting();
  const server = new UapiServer(dev, new Logger('silent', 't'));
  const path = join(dir, 't.sock');
  await server.listen(path);
  t.after(() => server.close());
  const sock = createConnection({ path });
  let text = '';
  sock.on('data', (d: Buffer) => {
    text += d.toString();
  });
  sock.write('wgm_monitor=1\n\n');
  await until('errno=0', () => text === 'errno=0\n');
  await until('a subscription', () => dev.listeners === 1);
  const ev: PathEvent = { peer: PEER, to: '192.0.2.9:9', reason: 'configured', at: 1 };
  dev.emit(ev);
  dev.emit({ ...ev, from: '192.0.2.9:9', to: '192.0.2.8:8', reason: 'roamed', at: 2 });
  await until('two events', () => text.split('\n').length === 4);
  const lines = text.split('\n').slice(1, 3);
  assert.deepEqual(decodePathEvent(lines[0]!), ev);
  assert.equal(decodePathEvent(lines[1]!).reason, 'roamed');
  sock.destroy();
  await until('the subscription to end', () => dev.listeners === 0);

  // A device that cannot stream: the operation is unknown, the connection closes, no reply.
  const plain = new UapiServer({ get: dev.get, set: dev.set }, new Logger('silent', 't'));
  const p2 = join(dir, 'u.sock');
  await plain.listen(p2);
  t.after(() => plain.close());
  const s2 = createConnection({ path: p2 });
  let got = '';
  s2.on('data', (d: Buffer) => {
    got += d.toString();
  });
  const closed = new Promise<void>((r) => s2.once('close', () => r()));
  s2.write('wgm_monitor=1\n\n');
  await closed;
  assert.equal(got, '');
});
