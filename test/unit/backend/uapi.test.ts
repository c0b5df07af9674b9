// The UAPI client and the backend facade against fake daemons in /var/run/wireguard (unique names):
// backend choice and stale sockets (wireguard-tools src/ipc.c and src/ipc-uapi-unix.h), errors in
// wg's words, the idle timeout, capabilities from the extension keys, set requests on the wire, and
// streaming.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  capabilities,
  getDevice,
  listDevices,
  setDevice,
  setKernelForTesting,
} from '../../../src/backend/backend.js';
import { socketPath } from '../../../src/backend/uapi.js';
import { keyToHex } from '../../../src/crypto/keys.js';
import { isWgError, type WgError } from '../../../src/model/errors.js';
import { newDevice, newPeer } from '../../../src/model/index.js';
import { startFakeUapi } from '../../lib/fake-uapi.js';
import { isRoot } from '../../lib/run.js';

const TAG = `ua${process.pid % 100000}`;
const KEY = new Uint8Array(32).fill(9);
const PK = keyToHex(KEY);

async function rejectsWith(p: Promise<unknown>, message: string, errno?: number): Promise<WgError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isWgError(e), `not a WgError: ${e}`);
    assert.equal(e.message, message);
    if (errno !== undefined) assert.equal(e.errno, errno);
    return e;
  }
  assert.fail(`expected a failure: ${message}`);
}

before(() => setKernelForTesting(undefined, 'no kernel in these tests'));
after(() => setKernelForTesting(undefined));

test('no socket and no kernel: Protocol not supported (errno 93), as wg says on this machine', {
  skip: !isRoot && 'needs root',
}, async () => {
  await rejectsWith(getDevice(`${TAG}none`), 'Protocol not supported', 93);
  await rejectsWith(setDevice(`${TAG}none`, newDevice({ listenPort: 1 })), 'Protocol not supported', 93);
  await rejectsWith(capabilities(`${TAG}none`), 'Protocol not supported', 93);
  await rejectsWith(getDevice('with/slash'), 'Protocol not supported', 93);
});

test('a stale socket (daemon gone) is removed and the name falls through to the kernel', {
  skip: !isRoot && 'needs root',
}, async () => {
  const name = `${TAG}st`;
  const path = socketPath(name);
  // A daemon killed without cleanup leaves its socket file behind.
  const child = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
  ]);
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(existsSync(path), 'the stale socket is there');
  assert.ok(!(await listDevices()).includes(name), 'listing skips it...');
  assert.ok(!existsSync(path), '...and removes it, as wg does');
  // And through get as well.
  const child2 = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
  ]);
  await new Promise<void>((resolve) => child2.stdout.once('data', () => resolve()));
  child2.kill('SIGKILL');
  await new Promise((r) => child2.once('exit', r));
  await rejectsWith(getDevice(name), 'Protocol not supported', 93);
  assert.ok(!existsSync(path));
});

test('a regular file named like a socket is not an interface (and is left alone)', {
  skip: !isRoot && 'needs root',
}, async () => {
  const path = socketPath(`${TAG}file`);
  writeFileSync(path, '');
  try {
    assert.ok(!(await listDevices()).includes(`${TAG}file`));
    await rejectsWith(getDevice(`${TAG}file`), 'Protocol not supported');
    assert.ok(existsSync(path));
  } finally {
    rmSync(path, { force: true });
  }
});

test('get: the device, named like wg names it (15 bytes), errors in strerror words', {
  skip: !isRoot && 'needs root',
}, async () => {
  const long = `${TAG}abcdefghijklmnopqrst`;
  const fake = await startFakeUapi(long, {
    getReply: `listen_port=5\npublic_key=${PK}\nendpoint=[fe80::1%1]:7\nerrno=0`,
  });
  try {
    const d = await getDevice(long);
    assert.equal(d.name, long.slice(0, 15));
    assert.equal(d.listenPort, 5);
    assert.deepEqual(
      d.peers[0]!.endpoints[0]!.addr,
      { family: 6, address: 'fe80::1', port: 7, scope: 'lo' },
      'scope 1 prints as lo',
    );
    assert.ok((await listDevices()).includes(long));
    fake.options.getReply = 'errno=98';
    await rejectsWith(getDevice(long), 'Address already in use', 98);
    fake.options.getReply = 'errno=-22';
    await rejectsWith(getDevice(long), 'Protocol error', 71);
    fake.options.getReply = undefined;
    fake.options.rawReply = 'listen_port=1\n';
    fake.options.closeAfterReply = true;
    await rejectsWith(getDevice(long), 'Protocol error', 71);
  } finally {
    await fake.close();
  }
});

test('a silent daemon: ETIMEDOUT after the idle timeout', { skip: !isRoot && 'needs root' }, async () => {
  const fake = await startFakeUapi(`${TAG}hang`, { hang: true });
  process.env['WGM_UAPI_TIMEOUT_MS'] = '300';
  try {
    const t0 = performance.now();
    await rejectsWith(getDevice(`${TAG}hang`), 'Connection timed out', 110);
    const ms = performance.now() - t0;
    // It gives up, not too early; the upper bound is for a loaded machine.
    assert.ok(ms >= 250 && ms < 15_000, `gave up after ${ms} ms`);
    await rejectsWith(setDevice(`${TAG}hang`, newDevice({ listenPort: 1 })), 'Connection timed out', 110);
  } finally {
    delete process.env['WGM_UAPI_TIMEOUT_MS'];
    await fake.close();
  }
});

test('capabilities: stock daemons hold one endpoint; wgm-engine says what it is and holds several', {
  skip: !isRoot && 'needs root',
}, async () => {
  const plain = await startFakeUapi(`${TAG}go`, { getReply: 'listen_port=1\nerrno=0' });
  const wgm = await startFakeUapi(`${TAG}wgm`, {
    getReply: 'wgm_implementation=wgm-engine/0.1.0\nwgm_capabilities=multi_endpoint\nerrno=0',
  });
  try {
    assert.deepEqual(await capabilities(`${TAG}go`), { kind: 'uapi', multiEndpoint: false });
    assert.deepEqual(await capabilities(`${TAG}wgm`), {
      kind: 'uapi',
      implementation: 'wgm-engine/0.1.0',
      multiEndpoint: true,
    });
    const change = newDevice();
    change.peers.push(
      newPeer({
        publicKey: KEY,
        endpoints: [
          { addr: { family: 4, address: '192.0.2.1', port: 1 } },
          { addr: { family: 4, address: '192.0.2.2', port: 2 } },
        ],
      }),
    );
    const e = await setDevice(`${TAG}go`, change).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(isWgError(e) && e.code === 'capability', 'refused for a one-endpoint backend');
    assert.equal(plain.sets().length, 0, 'and nothing was sent');
    await setDevice(`${TAG}wgm`, change);
    assert.equal(
      wgm.sets()[0],
      `set=1\npublic_key=${PK}\nwgm_replace_endpoints=true\nwgm_endpoint=192.0.2.1:1\nwgm_endpoint=192.0.2.2:2\n\n`,
    );
  } finally {
    await plain.close();
    await wgm.close();
  }
});

test('set: the request on the wire and the reply errno as wg reads it', {
  skip: !isRoot && 'needs root',
}, async () => {
  const long = `${TAG}setabcdefghijklmnop`;
  // wg cuts the name to 15 bytes before connecting for a set.
  const fake = await startFakeUapi(long.slice(0, 15), {});
  try {
    await setDevice(long, newDevice({ listenPort: 51820, fwmark: 0 }));
    assert.deepEqual(fake.sets(), ['set=1\nlisten_port=51820\nfwmark=0\n\n']);
    fake.options.setReply = 'errno=-22';
    await rejectsWith(setDevice(long, newDevice({ listenPort: 1 })), 'Invalid argument', 22);
    fake.options.setReply = 'errno=22';
    await rejectsWith(setDevice(long, newDevice({ listenPort: 1 })), 'Unknown error -22');
    fake.options.setReply = 'nothing=here';
    await rejectsWith(setDevice(long, newDevice({ listenPort: 1 })), 'Protocol error', 71);
  } finally {
    await fake.close();
  }
});

test('streaming: 130,000 allowed IPs each way, through a real socket', {
  skip: !isRoot && 'needs root',
}, async (t) => {
  const lines = [`public_key=${PK}`];
  const change = newDevice();
  const peer = newPeer({ publicKey: KEY, replaceAllowedIPs: true });
  for (let i = 0; i < 130_000; i++) {
    const a = Uint8Array.of(10, (i >> 16) & 255, (i >> 8) & 255, i & 255);
    lines.push(`allowed_ip=${a.join('.')}/32`);
    peer.allowedIPs.push({ family: 4, address: a, cidr: 32 });
  }
  change.peers.push(peer);
  const fake = await startFakeUapi(`${TAG}big`, { getReply: `${lines.join('\n')}\nerrno=0` });
  try {
    let t0 = performance.now();
    const d = await getDevice(`${TAG}big`);
    const getMs = performance.now() - t0;
    assert.equal(d.peers[0]!.allowedIPs.length, 130_000);
    t0 = performance.now();
    await setDevice(`${TAG}big`, change);
    const setMs = performance.now() - t0;
    const req = fake.sets()[0]!;
    assert.equal(req.split('\n').filter((l) => l.startsWith('allowed_ip=')).length, 130_000);
    assert.ok(req.endsWith('allowed_ip=10.1.251.207/32\n\n'));
    t.diagnostic(`get of 130,000 prefixes: ${getMs.toFixed(0)} ms; set: ${setMs.toFixed(0)} ms`);
  } finally {
    await fake.close();
  }
});
