// The other side of the refusal: wgm-engine advertises multi_endpoint, so `wgm setconf` with
// several Endpoint lines and `wgm set` with several `endpoint` options reach it as candidate lists,
// in order (docs/uapi-extensions.md); one endpoint replaces the list, as stock wg's `endpoint=` does.
// The candidates are read back with a raw UAPI `get`, as any client would see them.

import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { K1, K2, PRIV } from '../lib/keys.js';
import { Lab } from '../lib/netns.js';
import { need, WGM } from '../lib/run.js';

const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

function rawGet(ifname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(`/var/run/wireguard/${ifname}.sock`);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('get timed out'));
    }, 10_000);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.endsWith('\n\n')) {
        clearTimeout(timer);
        sock.end();
        resolve(buf);
      }
    });
    sock.on('error', reject);
    sock.write('get=1\n\n');
  });
}

/** The candidate endpoints the engine reports for one peer, in order. */
async function candidates(ifname: string, peerB64: string): Promise<string[]> {
  const lines = (await rawGet(ifname)).split('\n');
  const start = lines.indexOf(`public_key=${hex(peerB64)}`);
  assert.ok(start >= 0, 'peer present');
  const out: string[] = [];
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('public_key='); i++) {
    if (lines[i]!.startsWith('wgm_endpoint=')) out.push(lines[i]!.slice('wgm_endpoint='.length));
  }
  return out;
}

test('wgm-engine receives every endpoint as a candidate, in order', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const lab = new Lab('sve');
  t.after(() => lab.cleanup());
  const ns = lab.netns('a');
  const dev = await lab.daemon('wgm-engine', ns);
  const wgm = (...args: string[]) => {
    const r = lab.exec(ns, process.execPath, [WGM, ...args], {
      env: { ...process.env, WG_ENDPOINT_RESOLUTION_RETRIES: '0' },
    });
    assert.equal(r.status, 0, `wgm ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const file = lab.file(
    'multi.conf',
    `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51999\n\n[Peer]\nPublicKey = ${K1}\n` +
      'Endpoint = 192.0.2.1:51820\nEndpoint = [2001:db8::1]:51820\nEndpoint = localhost:3\nAllowedIPs = 10.0.0.0/24\n\n' +
      `[Peer]\nPublicKey = ${K2}\nEndpoint = 192.0.2.9:9\n`,
  );
  wgm('setconf', dev.ifname, file);
  assert.deepEqual(await candidates(dev.ifname, K1), [
    '192.0.2.1:51820',
    '[2001:db8::1]:51820',
    '127.0.0.1:3',
  ]);
  assert.deepEqual(await candidates(dev.ifname, K2), ['192.0.2.9:9']);

  wgm('set', dev.ifname, 'peer', K2, 'endpoint', '198.51.100.1:1', 'endpoint', '198.51.100.2:2');
  assert.deepEqual(await candidates(dev.ifname, K2), ['198.51.100.1:1', '198.51.100.2:2']);
  assert.deepEqual(await candidates(dev.ifname, K1), [
    '192.0.2.1:51820',
    '[2001:db8::1]:51820',
    '127.0.0.1:3',
  ]);

  // One endpoint is wg's `endpoint=`: the list becomes that one address.
  wgm('set', dev.ifname, 'peer', K1, 'endpoint', '203.0.113.5:5');
  assert.deepEqual(await candidates(dev.ifname, K1), ['203.0.113.5:5']);

  // syncconf keeps the peers of the file and sends their candidates again.
  wgm('syncconf', dev.ifname, file);
  assert.deepEqual(await candidates(dev.ifname, K1), [
    '192.0.2.1:51820',
    '[2001:db8::1]:51820',
    '127.0.0.1:3',
  ]);
  assert.deepEqual(await candidates(dev.ifname, K2), ['192.0.2.9:9']);
});
