// Traffic through a tunnel for the interop tests (test/lib/netns.ts tunnels): a TCP stream
// whose bytes are checked end to end by SHA-256, and bursts of UDP datagrams sent with
// UDP_SEGMENT and checked datagram by datagram (udp-burst.ts).

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { type Lab, type Side, waitFor } from './netns.js';
import { BUILD } from './run.js';

const TCP_SINK = `
const net = require('node:net');
const srv = net.createServer((c) => {
  let n = 0;
  const h = require('node:crypto').createHash('sha256');
  c.on('data', (d) => { n += d.length; h.update(d); });
  c.on('end', () => { c.end(n + ' ' + h.digest('hex'), () => process.exit(0)); });
});
srv.listen(5201, process.argv[1], () => console.log('ready'));
setTimeout(() => process.exit(1), 25000);
`;

const TCP_SOURCE = `
const net = require('node:net');
const [addr, total] = [process.argv[1], Number(process.argv[2])];
const data = require('node:crypto').randomBytes(total);
const c = net.connect(5201, addr, () => c.end(data));
let reply = '';
c.on('data', (d) => { reply += d; });
c.on('end', () => {
  const want = total + ' ' + require('node:crypto').createHash('sha256').update(data).digest('hex');
  console.log(reply === want ? 'intact' : 'damaged: ' + reply);
  process.exit(0);
});
c.on('error', (e) => console.log('error ' + e.message));
setTimeout(() => { console.log('timeout'); process.exit(1); }, 20000);
`;

/**
 * Starts `cmd args` in namespace `ns` and waits until its output includes `ready` (the server
 * listens); `output()` is all it printed so far.
 */
export async function spawnReady(
  lab: Lab,
  ns: string,
  cmd: string,
  args: string[],
  ready: string,
  what: string,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = lab.spawn(ns, cmd, args);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await waitFor(what, () => out.includes(ready), 10_000);
  return { child, output: () => out };
}

/** A TCP stream of `bytes` random bytes from `from` to `to` over the tunnel, checked by SHA-256. */
export async function tcp(lab: Lab, from: Side, to: Side, family: 4 | 6, bytes: number): Promise<void> {
  const addr = family === 4 ? to.inner.v4 : to.inner.v6;
  await spawnReady(lab, to.ns, process.execPath, ['-e', TCP_SINK, addr], 'ready', 'TCP sink to listen');
  const r = lab.exec(from.ns, process.execPath, ['-e', TCP_SOURCE, addr, String(bytes)], {
    timeoutMs: 30_000,
  });
  assert.equal(r.stdout.trim(), 'intact', `TCP over IPv${family}: ${r.stdout} ${r.stderr}`);
}

const BURST = join(BUILD, 'test/lib/udp-burst.js');

/**
 * `count` UDP datagrams from `from` to `to` over the tunnel, handed to the kernel 16 at a time
 * with UDP_SEGMENT: at least 90% must arrive, and every one that does intact.
 */
export async function udpBurst(lab: Lab, from: Side, to: Side, family: 4 | 6, count = 480): Promise<void> {
  const addr = family === 4 ? to.inner.v4 : to.inner.v6;
  const sink = await spawnReady(
    lab,
    to.ns,
    process.execPath,
    [BURST, 'sink', addr, String(count)],
    'ready',
    'UDP sink to listen',
  );
  const r = lab.exec(from.ns, process.execPath, [BURST, 'send', addr, String(count)], { timeoutMs: 30_000 });
  assert.match(r.stdout, /^sent /, `UDP burst sender: ${r.stdout} ${r.stderr}`);
  const line = await waitFor('UDP sink to report', () => /^(\d+) (\d+)$/m.exec(sink.output()), 25_000);
  const [good, bad] = [Number(line![1]), Number(line![2])];
  assert.equal(bad, 0, `UDP over IPv${family}: ${bad} datagrams damaged (${r.stdout.trim()})`);
  assert.ok(
    good >= count * 0.9,
    `UDP over IPv${family}: ${good} of ${count} datagrams arrived (${r.stdout.trim()})`,
  );
}
