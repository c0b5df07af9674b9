// Malformed, truncated and hostile UAPI replies: wgm reports a clear error (wg's own where wg has
// one, compared with the real wg) and never crashes or hangs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyToHex } from '../../../src/crypto/keys.js';
import { type IsolatedCommand, type IsolatedDevice, runIsolated } from '../../lib/fake-uapi.js';
import { need, WGM } from '../../lib/run.js';

const PK = keyToHex(new Uint8Array(32).fill(7));
const PEER = `public_key=${PK}`;

/** name → reply options. Each is compared with wg on `show NAME` and `showconf NAME` (and `dump` when wg accepts it). */
const CASES: Record<string, IsolatedDevice['options']> = {
  mtrunc: { rawReply: 'listen_port=1\nerrno=0\n', closeAfterReply: true },
  mmidline: { rawReply: 'listen_port=1\nerr', closeAfterReply: true },
  mempty: { rawReply: '', closeAfterReply: true },
  mblank: { rawReply: '\n' },
  mnoerrno: { getReply: 'listen_port=1' },
  mneg: { getReply: 'errno=-22' },
  meinval: { getReply: 'errno=22' },
  meaddr: { getReply: 'listen_port=1\nerrno=98' },
  mbig: { getReply: 'errno=2147483648' },
  mport: { getReply: 'listen_port=65536\nerrno=0' },
  mplus: { getReply: 'listen_port=+5\nerrno=0' },
  mfwmark: { getReply: 'fwmark=-1\nerrno=0' },
  mcr: { getReply: 'listen_port=1\r\nerrno=0' },
  mcrerr: { getReply: 'errno=0\r' },
  mnoeq: { getReply: 'listen_port\nerrno=0' },
  mkey: { getReply: `private_key=${'z'.repeat(64)}\nerrno=0` },
  mpeerkey: { getReply: `public_key=${PK.slice(2)}\nerrno=0` },
  mmask: { getReply: `${PEER}\nallowed_ip=10.0.0.0\nerrno=0` },
  mcidr: { getReply: `${PEER}\nallowed_ip=10.0.0.0/33\nerrno=0` },
  mwrap: { getReply: `${PEER}\nallowed_ip=10.0.0.0/256\nallowed_ip=::/384\nerrno=0` },
  mka: { getReply: `${PEER}\npersistent_keepalive_interval=65536\nerrno=0` },
  mrx: { getReply: `${PEER}\nrx_bytes=99999999999999999999999\ntx_bytes=18446744073709551615\nerrno=0` },
  mhs: { getReply: `${PEER}\nlast_handshake_time_sec=9223372036854775808\nerrno=0` },
  mendpoint: { getReply: `${PEER}\nendpoint=[::1]\nerrno=0` },
  mnoport: { getReply: `${PEER}\nendpoint=1.2.3.4:\nerrno=0` },
  munknown: {
    getReply: `weird_key=1\n${PEER}\nweird_peer_key=[]\nprotocol_version=99\nerrno=0\nafter_errno=1`,
  },
  mnul: { rawReply: 'listen_port=1\u0000\nerrno=0\n\n' },
  merrnofirst: { getReply: `errno=0\n${PEER}\nendpoint=127.0.0.1:9` },
};

/** Replies wg accepts (quirks and all): their dump is compared too. */
const SUCCEEDS = new Set(['mwrap', 'mrx', 'munknown', 'merrnofirst']);

test('malformed replies: same message and status as wg, for show, dump and showconf', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'unshare'] })) return;
  const devices = Object.entries(CASES).map(([name, options]) => ({ name, options }));
  const specs: Array<[IsolatedCommand, IsolatedCommand]> = [];
  for (const name of Object.keys(CASES)) {
    for (const args of [
      ['show', name],
      ['show', name, 'dump'],
      ['showconf', name],
    ]) {
      if (args[2] === 'dump' && !SUCCEEDS.has(name)) continue;
      specs.push([
        { cmd: 'wg', args, env: { WG_COLOR_MODE: 'never' } },
        { cmd: process.execPath, args: [WGM, ...args], env: { WG_COLOR_MODE: 'never' } },
      ]);
    }
  }
  const results = await runIsolated(devices, specs);
  results.forEach(([w, m], i) => {
    const what = specs[i]![0].args.join(' ');
    assert.equal(w.signal, null, `wg itself crashed on ${what}`);
    assert.equal(m.signal, null, `wgm crashed on ${what}`);
    assert.equal(m.stdout, w.stdout, `stdout of ${what}`);
    assert.equal(m.stderr, w.stderr, `stderr of ${what}`);
    assert.equal(m.status, w.status, `status of ${what}`);
  });
  const byName = (n: string) => results[specs.findIndex((p) => p[0].args[1] === n)]![1];
  assert.equal(byName('mtrunc').stderr, 'Unable to access interface: Protocol error\n');
  assert.equal(byName('meinval').stderr, 'Unable to access interface: Invalid argument\n');
  assert.equal(byName('meaddr').stderr, 'Unable to access interface: Address already in use\n');
});

test('a daemon that never answers: wgm gives up after its idle timeout, also inside show all', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'unshare'] })) return;
  const env = { WGM_UAPI_TIMEOUT_MS: '1000', WG_COLOR_MODE: 'never' };
  const noop: IsolatedCommand = { cmd: 'true', args: [] };
  const specs: Array<[IsolatedCommand, IsolatedCommand]> = [
    [{ cmd: process.execPath, args: [WGM, 'show', 'hung'], env, timeoutMs: 20_000 }, noop],
    [{ cmd: process.execPath, args: [WGM, 'show', 'all'], env, timeoutMs: 20_000 }, noop],
    [{ cmd: process.execPath, args: [WGM, 'showconf', 'hung'], env, timeoutMs: 20_000 }, noop],
  ];
  const results = await runIsolated(
    [
      { name: 'hung', options: { hang: true } },
      { name: 'okay', options: { getReply: 'listen_port=3\nerrno=0' } },
    ],
    specs,
  );
  const [one, all, conf] = results.map((r) => r[0]);
  assert.equal(one!.signal, null, 'not killed by the harness');
  assert.equal(one!.status, 1);
  assert.equal(one!.stderr, 'Unable to access interface: Connection timed out\n');
  assert.ok(one!.ms < 10_000, `took ${one!.ms} ms`);
  assert.equal(all!.status, 0, 'the other interface was shown');
  assert.match(all!.stderr, /^Unable to access interface hung: Connection timed out\n$/);
  assert.match(all!.stdout, /interface: okay\n {2}listening port: 3\n/);
  assert.equal(conf!.stderr, 'Unable to access interface: Connection timed out\n');
});
