// What the differential corpus cannot see because wg has no equivalent: locations (file:line),
// trailers, the order of warnings and retry lines, and the several-endpoints extension.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  cleanLine,
  loadConfig,
  loadConfigFile,
  loadParsedConfig,
  parseConfig,
} from '../../../src/config/parse.js';
import { isWgError, type WgError } from '../../../src/model/errors.js';
import { formatSockAddr } from '../../../src/model/inet.js';
import { K1, K2 } from '../../lib/keys.js';

const ENV = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' };

function parseError(text: string): WgError {
  try {
    parseConfig(text, { file: 'x.conf' });
  } catch (e) {
    if (isWgError(e)) return e;
    throw e;
  }
  assert.fail('expected an error');
}

async function loadError(text: string, env: NodeJS.ProcessEnv = ENV): Promise<WgError> {
  try {
    await loadConfig(text, { file: 'x.conf', env, sleep: async () => {} });
  } catch (e) {
    if (isWgError(e)) return e;
    throw e;
  }
  assert.fail('expected an error');
}

test('line cleaning: comment, NUL, every C whitespace character', () => {
  assert.equal(cleanLine(' Listen Port\t=\v5\f1\r'), 'ListenPort=51');
  assert.equal(cleanLine('a = b # c = d'), 'a=b');
  assert.equal(cleanLine('a = b\0# c'), 'a=b');
  assert.equal(cleanLine('a\u00a0= b'), 'a\u00a0=b');
});

test('errors carry file, 1-based line and wg trailer', () => {
  const e = parseError('\n[Interface]\r\n\n  bogus = 1\n');
  assert.equal(e.message, "Line unrecognized: `bogus=1'");
  assert.deepEqual(e.where, { file: 'x.conf', line: 4 });
  assert.deepEqual(e.trailer, ['Configuration parsing error']);
  assert.equal(e.location(), 'x.conf:4: ');
  const m = parseError(`[Peer]\nPublicKey = ${K1}\n\n[Peer]\nAllowedIPs = 10.0.0.0/8\n`);
  assert.equal(m.message, 'A peer is missing a public key');
  assert.deepEqual(m.where, { file: 'x.conf', line: 4 });
  assert.deepEqual(m.trailer, ['Invalid configuration']);
});

test('a misplaced or malformed secret is not quoted; a public key is', () => {
  const priv = 'cMlovxlOiyfJqLWtbmrh5LUEh+fuerBmgi2VX6tzMHE=';
  assert.equal(
    parseError(`[Peer]\nPublicKey = ${K1}\nprivate key = ${priv}\n`).message,
    "Line unrecognized: `privatekey=(hidden, 44 characters)'",
  );
  assert.equal(
    parseError(`[Interface]\nPresharedKey = ${priv}\n`).message,
    "Line unrecognized: `PresharedKey=(hidden, 44 characters)'",
  );
  assert.equal(parseError('[Interface]\nPresharedKey\n').message, "Line unrecognized: `PresharedKey'");
  assert.equal(
    parseError(`[Interface]\nPrivateKey = ${priv.slice(1)}\n`).message,
    "Key is not the correct length or format: `(hidden, 43 characters)'",
  );
  assert.equal(
    parseError(`[Interface]\nPublicKey = ${K1}\n`).message,
    `Line unrecognized: \`PublicKey=${K1}'`,
  );
  assert.equal(
    parseError(`[Peer]\nPublicKey = ${K1.slice(1)}\n`).message,
    `Key is not the correct length or format: \`${K1.slice(1)}'`,
  );
});

test('a file wg rejects in one line: the first error wins, later lines are never read', () => {
  const e = parseError('[Interface]\nListenPort = x\nFwMark = y\n');
  assert.equal(e.where.line, 2);
  assert.match(e.message, /`x'/);
});

test('several Endpoint lines and comma lists are all kept, in order', async () => {
  const text =
    `[Peer]\nPublicKey = ${K1}\nEndpoint = 127.0.0.1:1\nAllowedIPs = 10.0.0.0/8\n` +
    `Endpoint = [::1]:2 , localhost:3\nEndpoint = 1.2.3:4\n[Peer]\nPublicKey = ${K2}\nEndpoint = [fe80::1%lo]:5\n`;
  const parsed = parseConfig(text, { file: 'x.conf' });
  assert.deepEqual(
    parsed.device.peers.map((p) => p.endpoints.map((e) => e.spec)),
    [['127.0.0.1:1', '[::1]:2', 'localhost:3', '1.2.3:4'], ['[fe80::1%lo]:5']],
  );
  assert.ok(parsed.device.peers.every((p) => p.endpoints.every((e) => e.addr === undefined)));
  assert.deepEqual(parsed.peerLines, [1, 7]);
  const device = await loadConfig(text, { file: 'x.conf', env: ENV });
  assert.deepEqual(
    device.peers.map((p) => p.endpoints.map((e) => formatSockAddr(e.addr!))),
    [['127.0.0.1:1', '[::1]:2', '127.0.0.1:3', '1.2.0.3:4'], ['[fe80::1%lo]:5']],
  );
});

test('a comma list with an empty element is an error naming the whole value', () => {
  for (const value of ['127.0.0.1:1,', ',127.0.0.1:1', '127.0.0.1:1,,[::1]:2']) {
    const e = parseError(`[Peer]\nPublicKey = ${K1}\nEndpoint = ${value}\n`);
    assert.equal(e.message, `Unable to parse empty endpoint in list: \`${value}'`);
    assert.equal(e.where.line, 3);
  }
  const e = parseError(`[Peer]\nPublicKey = ${K1}\nEndpoint = 127.0.0.1:1, [::1\n`);
  assert.equal(e.message, "Unable to find matching brace of endpoint: `[::1'");
});

test('warnings and retry lines come in file order, prefixed with file:line', async () => {
  const text =
    `[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.0.0.1/8\nEndpoint = 127.0.0.1:nosuchservice\n` +
    'AllowedIPs = 10.0.0.2/8\n';
  const seen: string[] = [];
  await assert.rejects(
    loadParsedConfig(text, {
      file: 'x.conf',
      env: { WG_ENDPOINT_RESOLUTION_RETRIES: '1' },
      sleep: async () => {},
      onWarning: (w) => seen.push(w),
    }),
    (e: unknown) =>
      isWgError(e) &&
      e.location() === 'x.conf:4: ' &&
      e.message === "Servname not supported for ai_socktype: `127.0.0.1:nosuchservice'",
  );
  assert.deepEqual(seen, [
    'x.conf:3: Warning: AllowedIP has nonzero host part: 10.0.0.1/8',
    "x.conf:4: Servname not supported for ai_socktype: `127.0.0.1:nosuchservice'. Trying again in 1.00 seconds...",
  ]);
});

test('resolution beats a later syntax error; a bad retries variable beats both and has no location', async () => {
  const text = `[Peer]\nPublicKey = ${K1}\nEndpoint = :5\nbogus\n`;
  const r = await loadError(text);
  assert.equal(r.message, "Name or service not known: `:5'");
  assert.equal(r.where.line, 3);
  const v = await loadError(text, { WG_ENDPOINT_RESOLUTION_RETRIES: 'no' });
  assert.equal(v.message, "Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `no'");
  assert.equal(v.location(), '');
  assert.deepEqual(v.trailer, []);
  // Without any endpoint, the variable is never read.
  const s = await loadError('[Interface]\nbogus\n', { WG_ENDPOINT_RESOLUTION_RETRIES: 'no' });
  assert.equal(s.message, "Line unrecognized: `bogus'");
});

test('loadConfigFile: the path names the location, a directory is empty, fopen errors are wg text', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-config-parse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'a.conf');
  writeFileSync(path, '[Interface]\nListenPort = 7\n[Foo]\n');
  await assert.rejects(
    loadConfigFile(path, { env: ENV }),
    (e: unknown) => isWgError(e) && e.location() === `${path}:3: `,
  );
  const empty = await loadConfigFile(dir, { env: ENV });
  assert.equal(empty.text, '');
  assert.equal(empty.device.peers.length, 0);
  assert.equal(empty.device.listenPort, undefined);
  await assert.rejects(
    loadConfigFile(join(dir, 'missing.conf'), { env: ENV }),
    (e: unknown) => isWgError(e) && e.message === 'fopen: No such file or directory' && e.location() === '',
  );
  writeFileSync(path, `[Peer]\nPublicKey = ${K1}\nEndpoint = localhost:9\n`);
  const ok = await loadConfigFile(path, { env: ENV });
  assert.equal(ok.text.split('\n').length, 4);
  assert.deepEqual(ok.peerLines, [1]);
  assert.equal(formatSockAddr(ok.device.peers[0]!.endpoints[0]!.addr!), '127.0.0.1:9');
});

test('every [Peer] replaces its allowed IPs; nothing else is set unless written', () => {
  const { device } = parseConfig(`[Interface]\n[Peer]\nPublicKey = ${K1}\n`, { file: 'x.conf' });
  assert.equal(device.privateKey, undefined);
  assert.equal(device.listenPort, undefined);
  assert.equal(device.fwmark, undefined);
  assert.equal(device.replacePeers, false);
  const p = device.peers[0]!;
  assert.equal(p.replaceAllowedIPs, true);
  assert.equal(p.presharedKey, undefined);
  assert.equal(p.persistentKeepalive, undefined);
  assert.deepEqual(p.endpoints, []);
});
