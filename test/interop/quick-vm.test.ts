// wgm up/down on real kernel WireGuard (Debian 6.12 kernel in the test VM, one boot): a
// single-endpoint config comes up on the kernel backend, and `wgm up`/`down` leave the same
// state as stock `wg-quick up`/`down` (test/lib/quick-compare.ts, the comparison of
// quick-diff.test.ts), each in its own private world (test/lib/quick-sandbox.ts); a config
// with a three-endpoint peer on the same host goes to wgm-engine, with the reason in the trace,
// and `down` leaves nothing behind.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keypair } from '../lib/netns.js';
import { compare, normalize } from '../lib/quick-compare.js';
import { collectSandbox, prepareSandbox, SANDBOX_FILES, type SandboxRun } from '../lib/quick-sandbox.js';
import { GuestRun } from '../vm/kit.js';

const IFACE = 'wgqv0';

test('wgm up/down on kernel WireGuard match wg-quick; several endpoints go to wgm-engine', async (t) => {
  const g = GuestRun.start(t);
  if (!g) return;
  const me = keypair();
  const p1 = keypair();
  const p2 = keypair();
  const config = (endpoints: string[]) =>
    [
      '[Interface]',
      `PrivateKey = ${me.priv}`,
      'ListenPort = 51820',
      'Address = 10.0.0.5/24, fd00::5/64',
      'DNS = 10.0.9.1, example.com',
      'PostUp = echo post-up %i',
      '',
      '[Peer]',
      `PublicKey = ${p1.pub}`,
      'AllowedIPs = 10.0.0.1/32, 10.0.7.0/24',
      ...endpoints.map((e) => `Endpoint = ${e}`),
      '',
      '[Peer]',
      `PublicKey = ${p2.pub}`,
      'AllowedIPs = 0.0.0.0/0, ::/0',
      'Endpoint = 192.168.50.3:51822',
      '',
    ].join('\n');
  const single = config(['192.168.50.1:51821']);
  const multi = config(['192.168.50.1:51821', '192.168.50.4:51821', '[fd50::1]:51821']);
  const runs = {
    ref: prepareSandbox('wg-quick', `${g.dir}/ref`, IFACE, single),
    wgm: prepareSandbox('wgm', `${g.dir}/wgm`, IFACE, single),
    multi: prepareSandbox('wgm', `${g.dir}/multi`, IFACE, multi),
  };
  g.run('modprobe wireguard');
  for (const [name, p] of Object.entries(runs)) {
    g.section(`${name} script`, p.command.join(' '));
    for (const f of SANDBOX_FILES)
      g.run(`[ -e ${p.out}/${f} ] && { echo '=== ${name} ${f} ==='; cat ${p.out}/${f}; }`);
  }
  g.run('true');
  const { result, s } = await g.boot(600_000);
  assert.equal(result.status, 0, `${result.stderr}\n${result.stdout.slice(-4000)}`);
  const got = (name: string): SandboxRun => {
    assert.equal(s.get(`${name} script status`)?.trim(), '0', s.get(`${name} script`));
    return collectSandbox((f) => s.get(`${name} ${f}`));
  };
  const ref = got('ref');
  const wgm = got('wgm');
  assert.match(wgm.up.stderr, /^\[!\] Backend: kernel WireGuard \(every peer has at most one endpoint\)$/m);
  assert.match(ref.up.stderr, /^\[#\] ip link add wgqv0 type wireguard$/m);
  assert.doesNotMatch(ref.up.stderr, /Falling back/, 'wg-quick used the kernel too');
  compare(wgm, ref, { name: 'kernel', config: single }, IFACE);

  const m = got('multi');
  assert.equal(m.up.status, 0, m.up.stderr);
  assert.match(
    m.up.stderr,
    /^\[!\] Backend: wgm-engine \(peer \S+ on line \d+ has 3 endpoints; kernel WireGuard holds one per peer\)$/m,
  );
  assert.match(m.up.stderr, /^\[#\] wgm-engine wgqv0$/m);
  assert.equal(m.down?.status, 0, m.down?.stderr);
  assert.ok(m.afterDown, 'down ran');
  assert.deepEqual(normalize(m.afterDown), normalize(m.before), 'nothing left after down');
});
