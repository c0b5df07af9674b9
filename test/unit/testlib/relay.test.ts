// The delay/loss relay of test/lib/relay.ts, on loopback: delay measured (approximately, with
// generous bounds), loss counted against what arrived, blackhole and restore at run time, the
// text commands, and the runnable entry with its stdin and control socket.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { Relay } from '../../lib/relay.js';
import { BUILD } from '../../lib/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A UDP echo server on loopback; counts what it received. */
async function echoServer(): Promise<{ sock: Socket; port: number; got: () => number }> {
  const sock = createSocket('udp4');
  let n = 0;
  sock.on('message', (m, from) => {
    n++;
    sock.send(m, from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { sock, port: sock.address().port, got: () => n };
}

async function client(): Promise<{
  sock: Socket;
  replies: Buffer[];
  rtt: (to: number, tag: number) => Promise<number>;
}> {
  const sock = createSocket('udp4');
  const replies: Buffer[] = [];
  const waiting = new Map<number, (t: number) => void>();
  sock.on('message', (m) => {
    replies.push(m);
    waiting.get(m.readUInt32BE(0))?.(performance.now());
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const rtt = (to: number, tag: number) =>
    new Promise<number>((resolve, reject) => {
      const start = performance.now();
      const timer = setTimeout(() => reject(new Error(`no reply to ${tag} within 3 s`)), 3000);
      waiting.set(tag, (t) => {
        clearTimeout(timer);
        resolve(t - start);
      });
      const b = Buffer.alloc(8);
      b.writeUInt32BE(tag, 0);
      sock.send(b, to, '127.0.0.1');
    });
  return { sock, replies, rtt };
}

test('delay: a round trip takes about fwd + rev delay', async () => {
  const echo = await echoServer();
  const relay = new Relay({
    listen: { host: '127.0.0.1', port: 0 },
    target: { host: '127.0.0.1', port: echo.port },
    fwd: { delay: 40 },
    rev: { delay: 20 },
  });
  const { listen } = await relay.start();
  const c = await client();
  try {
    const rtts: number[] = [];
    for (let i = 0; i < 8; i++) rtts.push(await c.rtt(listen.port, i));
    rtts.sort((a, b) => a - b);
    const median = rtts[4]!;
    assert.ok(median >= 59, `median RTT ${median} ms is below the 60 ms configured`);
    assert.ok(median < 60 + 250, `median RTT ${median} ms (generous bound for a loaded machine)`);
    relay.set('both', { delay: 0 });
    assert.ok((await c.rtt(listen.port, 99)) < 60, 'changed at run time');
  } finally {
    relay.close();
    c.sock.close();
    echo.sock.close();
  }
});

test('loss: every datagram is counted as forwarded or dropped, and only forwarded ones arrive', async () => {
  const echo = await echoServer();
  const relay = new Relay({
    listen: { host: '127.0.0.1', port: 0 },
    target: { host: '127.0.0.1', port: echo.port },
    fwd: { loss: 0.3 },
    seed: 7,
  });
  const { listen } = await relay.start();
  const c = await client();
  try {
    for (let i = 0; i < 200; i++) {
      c.sock.send(Buffer.alloc(8), listen.port, '127.0.0.1');
      if (i % 20 === 19) await sleep(5);
    }
    await sleep(300);
    const s = relay.stats().counters;
    assert.equal(s.fwd.received, 200);
    assert.equal(s.fwd.forwarded + s.fwd.dropped, 200);
    assert.equal(echo.got(), s.fwd.forwarded, 'the target got exactly the forwarded ones');
    assert.ok(s.fwd.dropped >= 30 && s.fwd.dropped <= 90, `dropped ${s.fwd.dropped} of 200 at 30 %`);
    assert.equal(c.replies.length, s.rev.forwarded);
  } finally {
    relay.close();
    c.sock.close();
    echo.sock.close();
  }
});

test('blackhole one direction and restore it with a text command', async () => {
  const echo = await echoServer();
  const relay = new Relay({
    listen: { host: '127.0.0.1', port: 0 },
    target: { host: '127.0.0.1', port: echo.port },
  });
  const { listen } = await relay.start();
  const c = await client();
  try {
    await c.rtt(listen.port, 1);
    assert.match(relay.command('rev blackhole=1'), /"blackhole":true/);
    for (let i = 0; i < 5; i++) c.sock.send(Buffer.alloc(8), listen.port, '127.0.0.1');
    await sleep(200);
    assert.equal(echo.got(), 6, 'the forward direction still works');
    assert.equal(c.replies.length, 1, 'nothing came back');
    assert.equal(relay.stats().counters.rev.dropped, 5);
    relay.command('rev blackhole=0');
    await c.rtt(listen.port, 2);
  } finally {
    relay.close();
    c.sock.close();
    echo.sock.close();
  }
});

test('bad commands and impairments are refused with a message naming them, and change nothing', () => {
  const relay = new Relay({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: 9 } });
  assert.throws(() => relay.command('sideways delay=1'), /unknown command 'sideways'/);
  assert.throws(() => relay.command('fwd delay=abc'), /delay=abc: not a number/);
  assert.throws(() => relay.command('fwd speed=3'), /'speed=3' is not one of/);
  assert.throws(() => relay.command('fwd loss=2'), /fwd: loss must be between 0 and 1, not 2/);
  assert.throws(() => relay.command('rev blackhole=maybe'), /blackhole=maybe: expected 0 or 1/);
  assert.throws(
    () =>
      new Relay({ listen: { host: '::1', port: 0 }, target: { host: '::1', port: 9 }, fwd: { delay: -1 } }),
    /delay must be a number ≥ 0/,
  );
  assert.deepEqual(relay.stats().impair.fwd, { delay: 0, jitter: 0, loss: 0, blackhole: false });
});

test('the runnable relay: ready line, commands on stdin and on its control socket, ends on SIGTERM', async () => {
  const echo = await echoServer();
  const dir = mkdtempSync(join(tmpdir(), 'wgm-relay-'));
  const control = join(dir, 'ctl');
  const proc = spawn(
    process.execPath,
    [
      join(BUILD, 'test/lib/relay-main.js'),
      '--listen',
      '127.0.0.1:0',
      '--target',
      `127.0.0.1:${echo.port}`,
      '--fwd',
      'delay=30',
      '--control',
      control,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const c = await client();
  try {
    const ready = (await lines.next()).value as string;
    assert.match(ready, /^ready /);
    const port = (JSON.parse(ready.slice(6)) as { listen: { port: number } }).listen.port;
    assert.ok((await c.rtt(port, 1)) >= 29);
    proc.stdin!.write('both delay=0\n');
    assert.match((await lines.next()).value as string, /^ok \{"fwd":\{"delay":0/);
    proc.stdin!.write('fwd loss=7\n');
    assert.equal((await lines.next()).value, 'error fwd: loss must be between 0 and 1, not 7');
    const sock = createConnection(control);
    const answers = createInterface({ input: sock })[Symbol.asyncIterator]();
    sock.write('stats\n');
    const stats = JSON.parse(((await answers.next()).value as string).slice(3)) as {
      counters: { fwd: { forwarded: number } };
    };
    assert.equal(stats.counters.fwd.forwarded, 1);
    sock.end();
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    c.sock.close();
    echo.sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
