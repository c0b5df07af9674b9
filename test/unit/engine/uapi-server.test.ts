// The UAPI server, spoken to raw (wireguard-go device/uapi.go): get replies line for line as wireguard-go
// writes them, the errno of every malformed request as wireguard-go answers it, several
// operations per connection, an unknown operation closing the connection, the extension keys
// (man/wgm-engine.8), and wgm-engine's deliberate difference: a set that fails changes
// nothing.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyToHex } from '../../../src/crypto/keys.js';
import { Logger } from '../../../src/engine/log.js';
import { SetFolder, UapiServer } from '../../../src/engine/uapi-server.js';
import type { Peer } from '../../../src/model/index.js';
import { SetRequestDecoder } from '../../../src/uapi/set.js';
import { type Daemon, keypair, Lab, SOCKET_DIR } from '../../lib/netns.js';
import { need } from '../../lib/run.js';

const hexOf = (b64: string) => keyToHex(Buffer.from(b64, 'base64'));

/** Sends `request` on a fresh connection (to interface `ifname`'s socket, or a socket path) and collects everything until the server closes or `replies` replies came. */
function raw(
  ifname: string,
  request: string,
  replies = 1,
  timeoutMs = 3000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const path = ifname.includes('/') ? ifname : `${SOCKET_DIR}/${ifname}.sock`;
    const c = createConnection({ path });
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    c.on('data', (d) => {
      text += d.toString('latin1');
      if ((text.match(/errno=-?\d+\n\n/g) ?? []).length >= replies) finish(false);
    });
    c.on('close', () => finish(true));
    c.on('error', () => finish(true));
    c.write(request);
  });
}

function fold(lines: string[]) {
  const dec = new SetRequestDecoder();
  const f = new SetFolder();
  for (const l of lines) {
    const op = dec.line(l);
    if (op !== 'end') f.add(op);
  }
  return f.request();
}

test('SetFolder: the folded change means what applying the lines in order means', () => {
  const k1 = '11'.repeat(32);
  const k2 = '22'.repeat(32);
  const r = fold([
    'listen_port=1',
    'listen_port=2',
    'replace_peers=true',
    `public_key=${k1}`,
    'allowed_ip=10.0.0.0/8',
    'replace_allowed_ips=true',
    'allowed_ip=10.1.0.0/16',
    'endpoint=192.0.2.1:1',
    'wgm_endpoint=192.0.2.2:2',
    `public_key=${k2}`,
    'wgm_replace_endpoints=true',
    'remove=true',
  ]);
  assert.equal(r.change.listenPort, 2);
  assert.equal(r.change.replacePeers, true);
  assert.equal(r.change.peers.length, 2);
  const [p1, p2] = r.change.peers as [Peer, Peer];
  assert.equal(p1.replaceAllowedIPs, true);
  assert.deepEqual(
    p1.allowedIPs.map((a) => a.cidr),
    [16],
  );
  assert.deepEqual(
    p1.endpoints.map((e) => e.addr?.address),
    ['192.0.2.1', '192.0.2.2'],
  );
  assert.equal(p1.clearEndpoints, undefined);
  assert.equal(p2.clearEndpoints, true);
  assert.equal(p2.remove, true);
  // A plain endpoint= after candidates replaces them all.
  const r2 = fold([
    `public_key=${k1}`,
    'wgm_endpoint=192.0.2.2:2',
    'wgm_endpoint=192.0.2.3:3',
    'endpoint=[2001:db8::1]:4',
  ]);
  assert.deepEqual(
    r2.change.peers[0]!.endpoints.map((e) => e.addr?.address),
    ['2001:db8::1'],
  );
});

test('onSet runs after each applied set, not after a refused or failed one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-uapi-'));
  let answer = 0;
  let sets = 0;
  let applied = 0;
  const device = {
    get: () => {
      throw new Error('not asked');
    },
    set: async () => {
      sets++;
      return answer;
    },
  };
  const server = new UapiServer(device, new Logger('silent', 'test', () => {}), () => applied++);
  const path = join(dir, 'x.sock');
  try {
    await server.listen(path);
    assert.equal((await raw(path, 'set=1\nlisten_port=1\n\n')).text, 'errno=0\n\n');
    assert.equal(applied, 1);
    // A malformed line: refused before the device sees it.
    assert.equal((await raw(path, 'set=1\nlisten_port=x\n\n')).text, 'errno=-22\n\n');
    assert.equal(sets, 1);
    // The device refuses the change.
    answer = 22;
    assert.equal((await raw(path, 'set=1\nlisten_port=2\n\n')).text, 'errno=-22\n\n');
    assert.deepEqual([sets, applied], [2, 1]);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Pair {
  lab: Lab;
  ours: Daemon;
  theirs: Daemon;
}

async function pair(t: import('node:test').TestContext): Promise<Pair | undefined> {
  if (!need(t, { root: true, commands: ['wireguard-go', 'wg', 'ip'] })) return undefined;
  const lab = new Lab('eu');
  t.after(() => lab.cleanup());
  const [ours, theirs] = await Promise.all([
    lab.daemon('wgm-engine', lab.netns('m')),
    lab.daemon('wireguard-go', lab.netns('g')),
  ]);
  return { lab, ours, theirs };
}

/** A get reply without wgm's extension lines. */
const stock = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('wgm_'))
    .join('\n');

test('get replies: wireguard-go’s lines in its order, plus the extension lines', async (t) => {
  const s = await pair(t);
  if (!s) return;
  const dev = keypair();
  const peer = keypair();
  const psk = '5a'.repeat(32);
  const set = [
    'set=1',
    `private_key=${hexOf(dev.priv)}`,
    'listen_port=51820',
    'fwmark=4294967295',
    `public_key=${hexOf(peer.pub)}`,
    `preshared_key=${psk}`,
    'endpoint=[2001:db8::1%7]:51820',
    'persistent_keepalive_interval=0',
    'allowed_ip=10.0.0.1/8',
    'allowed_ip=fd00::1/64',
    'allowed_ip=192.168.4.0/24',
    '',
    '',
  ].join('\n');
  for (const d of [s.ours, s.theirs]) assert.equal((await raw(d.ifname, set)).text, 'errno=0\n\n');
  const ours = (await raw(s.ours.ifname, 'get=1\n\n')).text;
  const theirs = (await raw(s.theirs.ifname, 'get=1\n\n')).text;
  assert.equal(stock(ours), theirs);
  assert.match(theirs, /^private_key=[0-9a-f]{64}\nlisten_port=51820\nfwmark=4294967295\npublic_key=/);
  // The extension: device lines before the first peer, candidate lines inside it.
  const lines = ours.split('\n');
  const firstPeer = lines.findIndex((l) => l.startsWith('public_key='));
  assert.match(
    lines.slice(0, firstPeer).join('\n'),
    /\nwgm_implementation=wgm-engine\/\d+\.\d+\.\d+\nwgm_capabilities=multi_endpoint,endpoint_names,monitor$/,
  );
  assert.match(
    ours,
    /\nendpoint=\[2001:db8::1\]:51820\nwgm_endpoint=\[2001:db8::1\]:51820\nwgm_endpoint_state=active\n/,
  );
});

test('malformed requests: the same errno as wireguard-go', async (t) => {
  const s = await pair(t);
  if (!s) return;
  const pk = hexOf(keypair().pub);
  const cases: [string, string][] = [
    ['unknown device key', 'set=1\nfoo=1\n\n'],
    ['unknown peer key', `set=1\npublic_key=${pk}\nfoo=1\n\n`],
    ['device key in a peer', `set=1\npublic_key=${pk}\nlisten_port=1\n\n`],
    ['bad key', 'set=1\nprivate_key=123\n\n'],
    ['replace_peers=false', 'set=1\nreplace_peers=false\n\n'],
    ['port out of range', 'set=1\nlisten_port=65536\n\n'],
    ['hostname endpoint', `set=1\npublic_key=${pk}\nendpoint=example.com:1\n\n`],
    ['prefix without a length', `set=1\npublic_key=${pk}\nallowed_ip=10.0.0.1\n\n`],
    ['keepalive out of range', `set=1\npublic_key=${pk}\npersistent_keepalive_interval=65536\n\n`],
    ['protocol_version=2', `set=1\npublic_key=${pk}\nprotocol_version=2\n\n`],
    ['a line without =', 'set=1\nlisten_port\n\n'],
    ['get with a trailing character', 'get=1\nx\n'],
  ];
  for (const [what, req] of cases) {
    const mine: { text: string } = await raw(s.ours.ifname, req);
    const stockReply: { text: string } = await raw(s.theirs.ifname, req);
    const errno = (r: { text: string }) => /^errno=(-?\d+)\n\n/.exec(r.text)?.[1];
    assert.ok(
      errno(stockReply) !== undefined && errno(stockReply) !== '0',
      `${what}: wireguard-go said ${stockReply.text}`,
    );
    assert.equal(errno(mine), errno(stockReply), what);
  }
  // wireguard-go's IpcSetOperation: EPROTO for a line without =, EINVAL for the rest.
  assert.equal((await raw(s.ours.ifname, 'set=1\nlisten_port\n\n')).text, 'errno=-71\n\n');
});

test('a failed set changes nothing (wireguard-go keeps what came before the bad line)', async (t) => {
  const s = await pair(t);
  if (!s) return;
  const pk = hexOf(keypair().pub);
  const bad = `set=1\nlisten_port=51111\npublic_key=${pk}\nallowed_ip=10.0.0.0/8\npersistent_keepalive_interval=x\n\n`;
  const before = (await raw(s.ours.ifname, 'get=1\n\n')).text;
  assert.equal((await raw(s.ours.ifname, bad)).text, 'errno=-22\n\n');
  assert.equal((await raw(s.ours.ifname, 'get=1\n\n')).text, before, 'wgm-engine: unchanged');
  assert.equal((await raw(s.theirs.ifname, bad)).text, 'errno=-22\n\n');
  assert.match(
    (await raw(s.theirs.ifname, 'get=1\n\n')).text,
    /listen_port=51111\npublic_key=/,
    'wireguard-go: partly applied',
  );
});

/** One connection for several operations, each sent after the previous reply came. */
function session(ifname: string) {
  const c = createConnection({ path: `${SOCKET_DIR}/${ifname}.sock` });
  let buf = '';
  let closed = false;
  let wake: (() => void) | undefined;
  c.on('data', (d) => {
    buf += d.toString('latin1');
    wake?.();
  });
  c.on('close', () => {
    closed = true;
    wake?.();
  });
  c.on('error', () => {});
  return {
    async op(request: string): Promise<string | 'closed'> {
      c.write(request);
      const until = Date.now() + 3000;
      for (;;) {
        const m = /errno=-?\d+\n\n/.exec(buf);
        if (m) {
          const reply = buf.slice(0, m.index + m[0].length);
          buf = buf.slice(reply.length);
          return reply;
        }
        if (closed) return 'closed';
        if (Date.now() > until) return 'timeout' as 'closed';
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
    },
    close: () => c.destroy(),
  };
}

test('several operations on one connection; an unknown operation closes it without a reply', async (t) => {
  const s = await pair(t);
  if (!s) return;
  for (const d of [s.ours, s.theirs]) {
    const c = session(d.ifname);
    assert.equal(await c.op('set=1\nlisten_port=40000\n\n'), 'errno=0\n\n', d.impl);
    assert.equal(stock(String(await c.op('get=1\n\n'))), 'listen_port=40000\nerrno=0\n\n', d.impl);
    assert.equal(await c.op('set=1\nfwmark=5\n\n'), 'errno=0\n\n', d.impl);
    const got = await c.op('get=1\n\n');
    assert.match(got, /^listen_port=40000\nfwmark=5\n/, d.impl);
    assert.equal(await c.op('bogus=1\n'), 'closed', d.impl);
    c.close();
  }
  // wgm-engine also takes operations sent back to back without waiting (wireguard-go's line
  // scanner reads past the end of a set request and loses what follows).
  const r = await raw(s.ours.ifname, 'set=1\nfwmark=6\n\nget=1\n\nget=1\n\n', 3);
  assert.equal(r.text.match(/errno=0\n\n/g)?.length, 3, r.text);
  assert.match(stock(r.text), /^errno=0\n\nlisten_port=40000\nfwmark=6\n/);
});

test('extension keys: candidates in order, endpoint= replaces them, update_only, remove', async (t) => {
  const s = await pair(t);
  if (!s) return;
  const ifname = s.ours.ifname;
  const pk = hexOf(keypair().pub);
  const other = hexOf(keypair().pub);
  const set = (body: string) => raw(ifname, `set=1\n${body}\n`);
  const get = async () => (await raw(ifname, 'get=1\n\n')).text;
  assert.equal(
    (
      await set(
        `public_key=${pk}\nwgm_replace_endpoints=true\nwgm_endpoint=192.0.2.1:1\nwgm_endpoint=[2001:db8::2]:2\n`,
      )
    ).text,
    'errno=0\n\n',
  );
  assert.match(
    await get(),
    /\nendpoint=192\.0\.2\.1:1\nwgm_endpoint=192\.0\.2\.1:1\nwgm_endpoint_state=active\n(wgm_endpoint_last_seen_sec=\d+\n)?wgm_endpoint=\[2001:db8::2\]:2\nwgm_endpoint_state=unknown\n/,
  );
  assert.equal((await set(`public_key=${pk}\nendpoint=198.51.100.7:7\n`)).text, 'errno=0\n\n');
  const one = await get();
  assert.match(one, /\nendpoint=198\.51\.100\.7:7\nwgm_endpoint=198\.51\.100\.7:7\n/);
  assert.equal(one.match(/wgm_endpoint=/g)?.length, 1);
  assert.equal((await set(`public_key=${pk}\nwgm_replace_endpoints=true\n`)).text, 'errno=0\n\n');
  assert.doesNotMatch(await get(), /endpoint=/, 'no candidate left');
  // update_only does not create; remove removes.
  assert.equal(
    (await set(`public_key=${other}\nupdate_only=true\nallowed_ip=10.5.0.0/16\n`)).text,
    'errno=0\n\n',
  );
  assert.doesNotMatch(await get(), new RegExp(other));
  assert.equal((await set(`public_key=${pk}\nremove=true\n`)).text, 'errno=0\n\n');
  assert.doesNotMatch(await get(), /public_key=/);
  // Stock wireguard-go refuses the extension keys, which is why wgm asks before sending them.
  assert.equal(
    (await raw(s.theirs.ifname, `set=1\npublic_key=${pk}\nwgm_endpoint=192.0.2.1:1\n\n`)).text,
    'errno=-22\n\n',
  );
});
