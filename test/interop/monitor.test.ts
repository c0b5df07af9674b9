// `wgm monitor --json` against a wgm-engine in a network namespace: it streams one JSON object
// per path event, the interface, the peer, where from, where to and why; a second endpoint set
// with `wg set` is a switch it reports. Against wireguard-go it says it cannot stream.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keypair, Lab, waitFor } from '../lib/netns.js';
import { need, WGM } from '../lib/run.js';

test('wgm monitor --json streams endpoint switches of wgm-engine; wireguard-go cannot stream', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip'] })) return;
  const lab = new Lab('mo');
  t.after(() => lab.cleanup());
  const ns = lab.netns('a');
  const engine = await lab.daemon('wgm-engine', ns);
  const go = await lab.daemon('wireguard-go', ns);
  const me = keypair();
  const them = keypair();
  const key = lab.file('me.key', `${me.priv}\n`);
  lab.wg(ns, ['set', engine.ifname, 'private-key', key]);

  const mon = lab.spawn(ns, process.execPath, [WGM, 'monitor', '--json', engine.ifname]);
  let out = '';
  let err = '';
  mon.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  mon.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await waitFor(`wgm monitor to start (stderr: ${err})`, () => err.includes('Watching'), 30_000);

  const events = () =>
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  lab.wg(ns, ['set', engine.ifname, 'peer', them.pub, 'endpoint', '192.0.2.1:51820']);
  await waitFor(`the first event (stdout: ${out})`, () => events().length >= 1, 10_000);
  lab.wg(ns, ['set', engine.ifname, 'peer', them.pub, 'endpoint', '[2001:db8::2]:51821']);
  await waitFor(`the switch (stdout: ${out})`, () => events().length >= 2, 10_000);
  const [first, second] = events();
  assert.deepEqual(
    { ...first, at: undefined },
    {
      interface: engine.ifname,
      peer: them.pub,
      from: null,
      to: '192.0.2.1:51820',
      reason: 'configured',
      at: undefined,
    },
  );
  assert.deepEqual(
    { ...second, at: undefined },
    {
      interface: engine.ifname,
      peer: them.pub,
      from: '192.0.2.1:51820',
      to: '[2001:db8::2]:51821',
      reason: 'configured',
      at: undefined,
    },
  );
  const at = second!['at'] as number;
  assert.ok(Math.abs(at - Date.now()) < 60_000, `at is Unix milliseconds: ${at}`);
  mon.kill('SIGTERM');

  // wireguard-go has no such operation: a clear refusal, exit 1.
  const r = lab.exec(ns, process.execPath, [WGM, 'monitor', go.ifname]);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    new RegExp(
      `^Unable to monitor ${go.ifname}: .*cannot stream path events; wgm monitor needs wgm-engine\\n$`,
    ),
  );
  // Without an interface: every wgm-engine interface, and no wireguard-go one.
  const all = lab.spawn(ns, process.execPath, [WGM, 'monitor']);
  let allErr = '';
  all.stderr?.on('data', (d: Buffer) => {
    allErr += d.toString();
  });
  await waitFor(`wgm monitor (all) to start (${allErr})`, () => allErr.includes('Watching'), 30_000);
  assert.ok(allErr.includes(engine.ifname) && !allErr.includes(go.ifname), allErr);
  all.kill('SIGTERM');
});
