// The probe and the kernel half of the facade: what the host has (kernel family or not, and
// why), which daemons answer and what they are, and where one interface's requests go. The
// kernel module is replaced by a recording stand-in where the test needs kernel links (this
// machine has no WireGuard module).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import {
  getDevice,
  type KernelApi,
  listDevices,
  setDevice,
  setKernelForTesting,
} from '../../../src/backend/backend.js';
import type * as Netlink from '../../../src/backend/netlink/index.js';
import { probeAll, probeInterface, probeKernel } from '../../../src/backend/probe.js';
import { socketPath } from '../../../src/backend/uapi.js';
import type { Ctx } from '../../../src/cli/context.js';
import { run as probeVerb } from '../../../src/cli/probe.js';
import { WgError } from '../../../src/model/errors.js';
import { type Device, newDevice } from '../../../src/model/index.js';
import { startFakeUapi } from '../../lib/fake-uapi.js';
import { isRoot } from '../../lib/run.js';

const TAG = `up${process.pid % 100000}`;

// Compile-time check that the netlink helper's module satisfies the facade's contract.
export const kernelContract: KernelApi | undefined = undefined as unknown as typeof Netlink | undefined;

function fakeKernel(links: string[], sets: Array<[string, Device]>): KernelApi {
  return {
    kernelStatus: async () => ({ available: true }),
    kernelList: async () => links,
    kernelGet: async (name) => {
      if (!links.includes(name)) throw new WgError('backend', 'No such device', { errno: 19 });
      return newDevice({ name, listenPort: 4242 });
    },
    kernelSet: async (name, change) => {
      sets.push([name, change]);
    },
  };
}

function ctx(): Ctx & { stdout: string; stderr: string } {
  const c = {
    prog: 'wgm',
    env: {},
    stdout: '',
    stderr: '',
    out: (t: string) => {
      c.stdout += t;
    },
    err: (t: string) => {
      c.stderr += t;
    },
    outBytes: (b: Uint8Array) => {
      c.stdout += Buffer.from(b).toString('latin1');
    },
    stdin: process.stdin,
    stdoutIsTTY: false,
    stdoutFd: 1,
  };
  return c;
}

after(() => setKernelForTesting(undefined));

test("this build's kernel half says why there is no kernel WireGuard, and never crashes", async () => {
  setKernelForTesting(undefined, 'because the test says so');
  assert.deepEqual(await probeKernel(), {
    available: false,
    reason: 'because the test says so',
    interfaces: [],
  });
  // The real module (or its absence) also answers with a reason rather than an exception.
  const { loadKernel } = await import('../../../src/backend/backend.js');
  setKernelForTesting(undefined);
  const spec = '../../../src/backend/netlink/index.js';
  const real = await import(spec).then(
    (m: KernelApi) => m,
    () => undefined,
  );
  if (real) setKernelForTesting(real);
  const k = await probeKernel();
  assert.equal(typeof k.available, 'boolean');
  if (!k.available) assert.ok(typeof k.reason === 'string' && k.reason.length > 0, 'a reason is given');
  assert.ok(await loadKernel());
});

test('kernel links come first in the listing; a kernel name is read and set through the kernel', {
  skip: !isRoot && 'needs root',
}, async () => {
  const sets: Array<[string, Device]> = [];
  setKernelForTesting(fakeKernel([`${TAG}k`], sets));
  const fake = await startFakeUapi(`${TAG}u`, { getReply: 'errno=0' });
  try {
    const names = await listDevices();
    assert.equal(names[0], `${TAG}k`);
    assert.ok(names.indexOf(`${TAG}u`) > 0);
    assert.equal((await getDevice(`${TAG}k`)).listenPort, 4242);
    await setDevice(`${TAG}k`, newDevice({ listenPort: 1 }));
    assert.equal(sets[0]![0], `${TAG}k`);
    // A live socket wins over a kernel link of the same name, as in wg.
    setKernelForTesting(fakeKernel([`${TAG}u`], sets));
    assert.equal((await getDevice(`${TAG}u`)).listenPort, undefined);
    assert.deepEqual(await probeInterface(`${TAG}k`), {
      name: `${TAG}k`,
      backend: 'kernel',
      error: 'No such device',
      multiEndpoint: false,
    });
  } finally {
    await fake.close();
  }
});

test('probe: daemons, their process, implementation and capacity; stale sockets removed; one interface', {
  skip: !isRoot && 'needs root',
}, async () => {
  setKernelForTesting(undefined, 'no module');
  const plain = await startFakeUapi(`${TAG}go`, { getReply: 'errno=0' });
  const engine = await startFakeUapi(`${TAG}en`, {
    getReply: 'wgm_implementation=wgm-engine/9.9\nwgm_capabilities=multi_endpoint\nerrno=0',
  });
  const broken = await startFakeUapi(`${TAG}br`, { getReply: 'errno=5' });
  const stalePath = socketPath(`${TAG}st`);
  const child = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`,
  ]);
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  try {
    const r = await probeAll();
    assert.deepEqual(r.kernel, { available: false, reason: 'no module', interfaces: [] });
    const d = (n: string) => r.daemons.find((x) => x.name === n);
    assert.deepEqual(d(`${TAG}go`), {
      name: `${TAG}go`,
      socket: `/var/run/wireguard/${TAG}go.sock`,
      answers: true,
      capabilities: [],
      multiEndpoint: false,
      process: { pid: process.pid, command: 'node' },
    });
    assert.equal(d(`${TAG}en`)!.implementation, 'wgm-engine/9.9');
    assert.equal(d(`${TAG}en`)!.multiEndpoint, true);
    assert.equal(d(`${TAG}br`)!.answers, false);
    assert.equal(d(`${TAG}br`)!.error, 'Input/output error');
    assert.ok(r.staleRemoved.includes(`${TAG}st`));

    const one = ctx();
    assert.equal(await probeVerb([`${TAG}en`], one), 0);
    assert.equal(
      one.stdout,
      `interface: ${TAG}en\n  backend: userspace (/var/run/wireguard/${TAG}en.sock)\n  implementation: wgm-engine/9.9 (node, pid ${process.pid})\n  endpoints: several endpoints per peer\n`,
    );
    const none = ctx();
    assert.equal(await probeVerb([`${TAG}nothing`, '--json'], none), 1);
    assert.equal(JSON.parse(none.stdout).backend, 'none');
    const bad = ctx();
    assert.equal(await probeVerb([`${TAG}br`], bad), 1);
    assert.match(bad.stdout, /error: Input\/output error/);
    const all = ctx();
    assert.equal(await probeVerb([], all), 0);
    assert.match(all.stdout, /^kernel WireGuard: not available \(no module\)\n/);
    assert.ok(
      all.stdout.includes(
        `  ${TAG}go: unidentified daemon (node, pid ${process.pid}), one endpoint per peer\n`,
      ),
    );
    assert.ok(
      all.stdout.includes(
        `  ${TAG}br: /var/run/wireguard/${TAG}br.sock: does not answer: Input/output error\n`,
      ),
    );
    assert.equal(await probeVerb(['a', 'b'], ctx()), 1, 'usage');
  } finally {
    await plain.close();
    await engine.close();
    await broken.close();
  }
});
