// The engine's device as its UAPI shows it: the version it announces, the private-key rules
// (zero removes it, a peer with the new public key goes), the peer capacity (a set past it
// fails whole with ENOMEM), and the interface MTU followed when `ip link` changes it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyToHex } from '../../../src/crypto/keys.js';
import { ENGINE_VERSION } from '../../../src/engine/device.js';
import { keypair, Lab, SOCKET_DIR, sleep, waitFor } from '../../lib/netns.js';
import { need, ROOT } from '../../lib/run.js';

const hexOf = (b64: string) => keyToHex(Buffer.from(b64, 'base64'));

function uapi(ifname: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ path: `${SOCKET_DIR}/${ifname}.sock` });
    let text = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no reply to ${request}`));
    }, 3000);
    c.on('data', (d) => {
      text += d.toString('latin1');
      if (/errno=-?\d+\n\n$/.test(text)) {
        clearTimeout(timer);
        c.destroy();
        resolve(text);
      }
    });
    c.on('error', reject);
    c.write(request);
  });
}

const stock = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('wgm_'))
    .join('\n');

test('the version announced is the package version', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(ENGINE_VERSION, pkg.version);
});

test('private key rules, as wireguard-go has them', async (t) => {
  if (!need(t, { root: true, commands: ['wireguard-go', 'wg', 'ip'] })) return;
  const lab = new Lab('ev');
  t.after(() => lab.cleanup());
  const ours = await lab.daemon('wgm-engine', lab.netns('m'));
  const theirs = await lab.daemon('wireguard-go', lab.netns('g'));
  const dev = keypair();
  const p = keypair();
  const steps = [
    `set=1\nprivate_key=${hexOf(dev.priv)}\nlisten_port=41000\npublic_key=${hexOf(p.pub)}\nallowed_ip=10.0.0.0/8\n\n`,
    // Taking the peer's identity removes the peer.
    `set=1\nprivate_key=${hexOf(p.priv)}\n\n`,
    `set=1\npublic_key=${hexOf(dev.pub)}\nallowed_ip=10.1.0.0/16\n\n`,
    // An all-zero key removes the identity.
    `set=1\nprivate_key=${'0'.repeat(64)}\n\n`,
  ];
  for (const step of steps) {
    assert.equal(await uapi(ours.ifname, step), 'errno=0\n\n');
    assert.equal(await uapi(theirs.ifname, step), 'errno=0\n\n');
    const [m, g] = [await uapi(ours.ifname, 'get=1\n\n'), await uapi(theirs.ifname, 'get=1\n\n')];
    assert.equal(stock(m), g, `after ${step.split('\n')[1]}`);
  }
  assert.doesNotMatch(await uapi(ours.ifname, 'get=1\n\n'), /private_key=/);
});

test('a set past the peer capacity fails whole with ENOMEM', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'ip'] })) return;
  const lab = new Lab('ec');
  t.after(() => lab.cleanup());
  const d = await lab.daemon('wgm-engine', lab.netns('c'), { env: { WGM_ENGINE_MAX_PEERS: '2' } });
  const [a, b, c] = [keypair(), keypair(), keypair()];
  const peers = (...ks: { pub: string }[]) => ks.map((k) => `public_key=${hexOf(k.pub)}\n`).join('');
  assert.equal(await uapi(d.ifname, `set=1\nlisten_port=41001\n${peers(a, b, c)}\n`), 'errno=-12\n\n');
  assert.doesNotMatch(await uapi(d.ifname, 'get=1\n\n'), /public_key|listen_port=41001/, 'nothing applied');
  assert.equal(await uapi(d.ifname, `set=1\n${peers(a, b)}\n`), 'errno=0\n\n');
  // Replacing the peers frees their places first.
  assert.equal(await uapi(d.ifname, `set=1\nreplace_peers=true\n${peers(b, c)}\n`), 'errno=0\n\n');
  const got = await uapi(d.ifname, 'get=1\n\n');
  assert.equal(got.match(/public_key=/g)?.length, 2);
  assert.doesNotMatch(got, new RegExp(hexOf(a.pub)));
});

test('the engine follows MTU changes made with ip link', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'ip'] })) return;
  const lab = new Lab('em');
  t.after(() => lab.cleanup());
  const d = await lab.daemon('wgm-engine', lab.netns('t'), { env: { LOG_LEVEL: 'verbose' } });
  lab.ip(d.ns, 'link', 'set', d.ifname, 'mtu', '1280');
  await waitFor('the engine to notice the MTU', () => d.output().includes('MTU updated: 1280'), 15_000);
  await sleep(10);
});
