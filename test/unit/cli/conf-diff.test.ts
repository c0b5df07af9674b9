// `wgm setconf|addconf|syncconf` against stock wg (wireguard-tools src/setconf.c, src/config.c):
// the same file, sent to two fake UAPI servers that answer `get` with the same canned device, must
// produce the same set requests byte for byte (syncconf's removals come from its pre-read of the
// canned device), the same output (wgm's `file:line: ` prefix removed) and the same exit status.
// This test's own corpus runs every verb (syncconf against every canned device); the config
// fixtures (test/fixtures/configs, the parser's corpus) run through syncconf against a device with
// peers, which exercises the parser, replace-everything and the removals at once.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { multiEndpointPeers } from '../../../src/cli/capability-check.js';
import { loadConfigFile } from '../../../src/config/parse.js';
import { K1, K2, K3, PRIV, PSK } from '../../lib/keys.js';
import { need, ROOT } from '../../lib/run.js';
import { asWgStderr, diffRun, expectedStderr, pool, startPair, TEST_ENV, WORKERS } from './setverbs-diff.js';

const K4 = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const K5 = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=';
const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

function peerReply(key: string, extra = ''): string {
  return (
    `public_key=${hex(key)}\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1\nendpoint=192.0.2.9:51820\n` +
    'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n' +
    `persistent_keepalive_interval=25\nallowed_ip=10.9.0.0/16\n${extra}`
  );
}

/** Canned devices the fake servers report to `get` (what syncconf diffs against). */
const DEVICES: Record<string, string> = {
  'no peers': `private_key=${hex(PRIV)}\nlisten_port=51820\nerrno=0`,
  'K1 K4 K5': `private_key=${hex(PRIV)}\nlisten_port=51820\n${peerReply(K1)}${peerReply(K4)}${peerReply(K5)}errno=0`,
  'K4 twice, K1, K2': `listen_port=7\n${peerReply(K4)}${peerReply(K1)}${peerReply(K4)}${peerReply(K2)}errno=0`,
  'get fails': 'errno=22',
};

const PEER1 = `[Peer]\nPublicKey = ${K1}\nEndpoint = 1.2.3.4:51820\nAllowedIPs = 10.0.0.0/24, fd00::/64\n`;
const PEER2 = `[Peer]\nPublicKey = ${K2}\nPersistentKeepalive = 5\n`;

const FILES: Record<string, string> = {
  'empty.conf': '',
  'interface-only.conf': '[Interface]\n',
  'interface.conf': `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51001\nFwMark = 0x20\n`,
  'two-peers.conf': `[Interface]\nPrivateKey = ${PRIV}\n\n${PEER1}\n${PEER2}`,
  'peer-no-allowedips.conf': `[Peer]\nPublicKey = ${K1}\n`,
  'peer-twice.conf': `${PEER1}[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.5.0.0/16\n`,
  'new-and-kept.conf': `[Peer]\nPublicKey = ${K3}\nAllowedIPs = 10.3.0.0/16\n${PEER1}`,
  'psk.conf': `[Peer]\nPublicKey = ${K1}\nPresharedKey = ${PSK}\n`,
  'odd-format.conf':
    `# leading comment\n\n[ interface ]\nprivatekey=${PRIV} # trailing\nLISTENPORT = 5 1 8 2 0\n  fwmark\t=\toff\n` +
    `[PEER]\r\nPublic Key = ${K1}\r\nallowedips = 10.0.0.1/32 , 10.0.0.2\nAllowedIPs=fd00::/8\n` +
    'endpoint = [ ::1 ] : 51820\npersistentkeepalive = OFF\n',
  'interface-after-peer.conf': `${PEER2}[Interface]\nListenPort = 9\n`,
  'same-endpoint-twice.conf': `[Peer]\nPublicKey = ${K1}\nEndpoint = 1.2.3.4:5\nEndpoint = 1.2.3.4:5\n`,
  'host-part.conf': `[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.0.0.1/024\n`,
  'bad-line.conf': `[Interface]\nListenPort = 5\nAddress = 10.0.0.1/24\n`,
  'bad-key.conf': `${PEER1}[Peer]\nPublicKey = nope\n`,
  'missing-key.conf': `${PEER1}[Peer]\nAllowedIPs = 10.1.0.0/16\n`,
  'bad-endpoint-port.conf': `[Peer]\nPublicKey = ${K1}\nEndpoint = 1.2.3.4:abc\n`,
  'empty-value.conf': `[Peer]\nPublicKey = ${K1}\nEndpoint =\n`,
  'before-section.conf': `ListenPort = 5\n`,
  'error-after-warning.conf': `[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.0.0.1/24\nPersistentKeepalive = 65536\n`,
};

function fixtureFiles(): string[] {
  const base = join(ROOT, 'test/fixtures/configs');
  const out: string[] = [];
  for (const sub of ['valid', 'invalid']) {
    const d = join(base, sub);
    if (!existsSync(d)) continue;
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isFile()) out.push(p);
    }
  }
  return out;
}

/** Whether wgm must refuse this file on a single-endpoint backend (several distinct endpoints on a peer). */
async function hasMultiEndpointPeer(path: string): Promise<boolean> {
  try {
    const { device } = await loadConfigFile(path, { env: TEST_ENV, onWarning: () => {} });
    return multiEndpointPeers(device).length > 0;
  } catch {
    return false;
  }
}

test('setconf, addconf and syncconf send what wg sends, for every file and canned device', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'setverbs-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files: string[] = [];
  for (const [n, text] of Object.entries(FILES)) {
    writeFileSync(join(dir, n), text, { mode: 0o600 });
    files.push(join(dir, n));
  }
  mkdirSync(join(dir, 'a-directory'));
  files.push(join(dir, 'a-directory'), join(dir, 'does-not-exist.conf'));
  const fixtures = fixtureFiles();

  let compared = 0;
  let refused = 0;
  for (const [devName, getReply] of Object.entries(DEVICES)) {
    const pairs = await Promise.all(
      Array.from({ length: WORKERS }, (_, w) => startPair(`svc${w}`, { getReply })),
    );
    try {
      // setconf and addconf never read the device: once is enough. syncconf diffs against each.
      const main = devName === 'K1 K4 K5';
      const verbs = main ? ['setconf', 'addconf', 'syncconf'] : ['syncconf'];
      const runs = [
        ...files.flatMap((file) => verbs.map((verb) => ({ file, verb }))),
        ...(main ? fixtures.map((file) => ({ file, verb: 'syncconf' })) : []),
      ];
      await pool(runs, WORKERS, async ({ file, verb }, w) => {
        const multi = await hasMultiEndpointPeer(file);
        const what = `${verb} ${file} on device "${devName}"`;
        const o = await diffRun(pairs[w]!, (iface) => [verb, iface, file], TEST_ENV);
        if (multi) {
          // wg keeps the last endpoint; wgm refuses before touching anything.
          assert.equal(o.ours.status, 1, what);
          assert.deepEqual(o.oursSets, [], what);
          assert.match(o.ours.stderr, /has \d+ endpoints, but .* one endpoint per peer/, what);
          refused++;
          return;
        }
        assert.equal(o.ours.status, o.wg.status, `${what}: exit status (stderr ${o.ours.stderr})`);
        assert.deepEqual(o.oursSets, o.wgSets, `${what}: set requests`);
        assert.equal(o.ours.stdout, o.wg.stdout, `${what}: stdout`);
        const mine = asWgStderr(o.ours.stderr, [file]);
        assert.equal(mine, expectedStderr(o.wg.stderr, mine), `${what}: stderr`);
        compared++;
      });
    } finally {
      for (const p of pairs) await p.close();
    }
  }
  t.diagnostic(`${compared} runs compared byte for byte, ${refused} multi-endpoint refusals`);
  assert.ok(compared >= 200, `${compared} compared`);
});

test('usage lines for the three verbs match wg', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const pair = await startPair('svq');
  t.after(() => pair.close());
  for (const verb of ['setconf', 'addconf', 'syncconf']) {
    for (const extra of [[], ['a'], ['a', 'b', 'c']]) {
      const o = await diffRun(pair, () => [verb, ...extra]);
      assert.equal(o.ours.status, o.wg.status);
      assert.equal(asWgStderr(o.ours.stderr), o.wg.stderr);
    }
  }
});
