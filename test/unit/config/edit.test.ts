// The save editor on hand-written files: what survives, what is rewritten, and that every
// result reads back as the running state (stateDifference) and as the same state as the file
// wg-quick's save_config would have written (wgQuickText).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { editConfig } from '../../../src/config/edit.js';
import { type SaveState, stateDifference, stateOfText, wgQuickText } from '../../../src/config/saved.js';
import { keyFromBase64 } from '../../../src/crypto/keys.js';
import { newPeer, type SockAddr } from '../../../src/model/index.js';
import { ROOT } from '../../lib/run.js';

const K1 = 'mS5IO0H5HsXX8sVNE6FynPx+Bf6SlbCtRqfCr5NjVSU=';
const K2 = 'gr4rvbWd+ynOHVufjeIKjBSo+g+v6pcoHH1z8HoUpz4=';
const K3 = 'YI4K2nbEfgj2/X1lkYFp/lmhnRS85CPMsvOuXWIeqlU=';
const PRIV = 'qG7j/102P/O14Bu3f6SQWtWDG5qyt0XGdTa2U9EnuXU=';

const BASE = `# office tunnel
[Interface]
# addresses handed out by IT
Address = 10.0.0.5/24, fd00::5/64   # both families
address=10.0.5.5
DNS = 10.0.9.1, example.com
PostUp = echo up %i
ListenPort = 51005
PrivateKey = ${PRIV}

# the gateway
[Peer]
PublicKey = ${K1}
AllowedIPs = 10.0.0.1/32, 10.0.7.0/24
Endpoint = 192.168.77.1:51001
Endpoint = 192.168.78.1:51001

# laptop
[Peer]
PublicKey = ${K2}
AllowedIPs = 10.0.0.2/32 # only its address
`;

/** The state an interface running BASE unchanged would report (single-endpoint backend). */
function running(text = BASE): SaveState {
  const s = stateOfText(text);
  s.dnsSearch = undefined;
  for (const p of s.device.peers) {
    const last = p.endpoints[p.endpoints.length - 1];
    p.endpointStates = undefined;
    p.endpoints = last ? [last] : [];
  }
  return s;
}

function check(text: string, state: SaveState): string {
  const out = editConfig(text, state);
  assert.equal(stateDifference(stateOfText(out), state), undefined, out);
  const quick = wgQuickText({ ...state, dnsSearch: undefined });
  const fromQuick = stateOfText(quick);
  // Read back from a backend that holds one endpoint per peer, unless the state held several.
  fromQuick.device.peers.forEach((p, i) => {
    if (!state.device.peers[i]?.endpointStates) p.endpointStates = undefined;
  });
  // wg-quick's file loses search domains, wgm's keeps them: compare the rest.
  assert.equal(stateDifference(stateOfText(out), { ...fromQuick, dnsSearch: undefined }), undefined, quick);
  return out;
}

const ep = (address: string, port: number): SockAddr => ({
  family: address.includes(':') ? 6 : 4,
  address,
  port,
});

test('nothing changed: the text comes back byte for byte', () => {
  assert.equal(check(BASE, running()), BASE);
  assert.equal(editConfig(BASE, stateOfText(BASE)), BASE);
});

test('ip prints 10.0.5.5/32 and v6 first: the file keeps its spelling', () => {
  const s = running();
  s.addresses = ['fd00::5/64', '10.0.5.5/32', '10.0.0.5/24'];
  assert.equal(check(BASE, s), BASE);
});

test('an address added at run time goes on a new line after the last Address line', () => {
  const s = running();
  s.addresses.push('10.9.9.9/32');
  const out = check(BASE, s);
  assert.match(out, /address=10\.0\.5\.5\nAddress = 10\.9\.9\.9\/32\nDNS/);
});

test('an address removed at run time leaves its comment and the other words', () => {
  const s = running();
  s.addresses = s.addresses.filter((a) => a !== 'fd00::5/64');
  const out = check(BASE, s);
  assert.match(out, /^Address = 10\.0\.0\.5\/24 {3}# both families$/m);
  assert.match(out, /^address=10\.0\.5\.5$/m);
});

test('a link-local address reported by ip is written, as wg-quick does', () => {
  const s = running();
  s.addresses.push('fe80::92c:c49e:b41b:c1bb/64');
  assert.match(check(BASE, s), /Address = fe80::92c:c49e:b41b:c1bb\/64/);
});

test('DNS: search domains kept, a nameserver changed, order kept', () => {
  const s = running();
  s.dns = ['10.0.9.2'];
  const out = check(BASE, s);
  assert.match(out, /^DNS = example\.com\nDNS = 10\.0\.9\.2$/m);
  s.dns = ['1.1.1.1', '10.0.9.1'];
  const out2 = check(BASE, s);
  assert.match(out2, /^DNS = 1\.1\.1\.1, 10\.0\.9\.1, example\.com$/m);
});

test('ListenPort and FwMark set at run time are rewritten or added', () => {
  const s = running();
  s.device.listenPort = 40000;
  s.device.fwmark = 51820;
  const out = check(BASE, s);
  assert.match(out, /^ListenPort = 40000$/m);
  assert.match(out, /^PrivateKey = .*\nFwMark = 0xca6c\n\n# the gateway/m);
});

test('a peer removed at run time goes with its own comment lines', () => {
  const s = running();
  s.device.peers = s.device.peers.filter((p) => p.allowedIPs.length !== 1);
  const out = check(BASE, s);
  assert.ok(!out.includes('laptop'));
  assert.ok(out.endsWith('Endpoint = 192.168.78.1:51001\n'), out);
  const s2 = running();
  s2.device.peers = s2.device.peers.slice(1);
  const out2 = check(BASE, s2);
  assert.ok(!out2.includes('the gateway') && out2.includes('# laptop\n[Peer]'), out2);
});

test('a new peer is appended after an empty line, with the file style', () => {
  const s = running();
  const p = newPeer({ publicKey: keyFromBase64(K3)!, persistentKeepalive: 25 });
  p.endpoints = [{ addr: ep('203.0.113.9', 51820) }];
  s.device.peers.push(p);
  const out = check(BASE, s);
  assert.ok(
    out.endsWith(
      `# only its address\n\n[Peer]\nPublicKey = ${K3}\nEndpoint = 203.0.113.9:51820\nPersistentKeepalive = 25\n`,
    ),
    out,
  );
  const compact = BASE.replaceAll(' = ', '=');
  assert.match(check(compact, s), /\[Peer\]\nPublicKey=YI4K/);
});

test('single-endpoint backend: all Endpoint lines kept while the active one is among them', () => {
  const s = running();
  s.device.peers[0]!.endpoints = [{ addr: ep('192.168.77.1', 51001) }];
  assert.equal(check(BASE, s), BASE);
  s.device.peers[0]!.endpoints = [{ addr: ep('198.51.100.7', 9) }];
  const out = check(BASE, s);
  assert.match(
    out,
    /AllowedIPs = 10\.0\.0\.1\/32, 10\.0\.7\.0\/24\nEndpoint = 198\.51\.100\.7:9\n\n# laptop/,
  );
});

test('wgm-engine reports every candidate: a new one appended, a removed one deleted, order kept', () => {
  const s = stateOfText(BASE);
  const p = s.device.peers[0]!;
  p.endpoints.push({ addr: ep('fd00::77', 51001) });
  p.endpointStates = p.endpoints.map((e) => ({ addr: e.addr!, state: 'standby' }));
  const out = check(BASE, s);
  assert.match(out, /Endpoint = 192\.168\.78\.1:51001\nEndpoint = \[fd00::77\]:51001\n/);
  p.endpoints = [p.endpoints[1]!, p.endpoints[0]!];
  p.endpointStates = p.endpoints.map((e) => ({ addr: e.addr!, state: 'standby' }));
  const out2 = check(BASE, s);
  assert.match(out2, /Endpoint = 192\.168\.78\.1:51001\nEndpoint = 192\.168\.77\.1:51001\n/);
});

test('a hostname endpoint stays when it resolved to the running address', () => {
  const text = BASE.replace('Endpoint = 192.168.78.1:51001', 'Endpoint = gw.example.net:51001');
  const s = running();
  s.device.peers[0]!.endpoints = [{ addr: ep('192.168.78.1', 51001) }];
  const resolved = new Map([['gw.example.net:51001', ep('192.168.78.1', 51001)]]);
  assert.equal(editConfig(text, s, { resolved }), text);
  // Unresolved: the line cannot be shown to hold the address, so it is rewritten.
  assert.match(editConfig(text, s), /Endpoint = 192\.168\.78\.1:51001/);
});

test('AllowedIPs: host bits as written survive, a removed prefix goes, a new one is added', () => {
  const text = BASE.replace('10.0.7.0/24', '10.0.7.9/24');
  const s = running(text);
  s.device.peers[0]!.allowedIPs = s.device.peers[0]!.allowedIPs.map((ip) =>
    ip.cidr === 24 ? { ...ip, address: Uint8Array.of(10, 0, 7, 0) } : ip,
  );
  assert.equal(check(text, s), text);
  s.device.peers[1]!.allowedIPs = [{ family: 6, address: new Uint8Array(16), cidr: 0 }];
  assert.match(check(text, s), /^AllowedIPs = ::\/0 # only its address$/m);
});

test('MTU: the running value replaces the file one; PresharedKey and keepalive removed', () => {
  const text = BASE.replace('PostUp', 'MTU = 1400\nPostUp').replace(
    `PublicKey = ${K2}`,
    `PublicKey = ${K2}\nPresharedKey = ${K3}\nPersistentKeepalive = 25`,
  );
  const s = running(text);
  s.mtu = '1380';
  s.device.peers[1]!.presharedKey = undefined;
  s.device.peers[1]!.persistentKeepalive = 0;
  const out = check(text, s);
  assert.match(out, /^MTU = 1380$/m);
  assert.ok(!out.includes('PresharedKey') && !out.includes('PersistentKeepalive'), out);
});

test('CRLF files stay CRLF, new lines included', () => {
  const text = BASE.replaceAll('\n', '\r\n');
  const s = running(text);
  s.addresses.push('10.9.9.9/32');
  s.device.peers.push(newPeer({ publicKey: keyFromBase64(K3)! }));
  const out = check(text, s);
  assert.ok(!/[^\r]\n/.test(out), JSON.stringify(out));
});

test('a file without [Interface] gets one at the top; an empty file becomes a whole config', () => {
  const s = running();
  const out = check('', s);
  assert.match(out, /^\[Interface\]\nAddress = /);
  const peersOnly = BASE.slice(BASE.indexOf('# the gateway'));
  assert.match(check(peersOnly, s), /^\[Interface\]\nAddress/);
});

test('SaveConfig and hooks: kept when unchanged, written when set', () => {
  const s = running();
  s.saveConfig = true;
  s.postDown = ['echo down %i'];
  const out = check(BASE, s);
  assert.match(out, /^SaveConfig = true$/m);
  assert.match(out, /^PostDown = echo down %i$/m);
  const text = BASE.replace('PostUp', 'SaveConfig = True\nPostUp');
  assert.equal(check(text, running(text)), text);
});

test('a public key in two [Peer] sections: the first is kept and made whole', () => {
  const text = `${BASE}\n[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.0.8.0/24\n`;
  const s = running(BASE);
  const out = check(text, s);
  assert.equal((out.match(new RegExp(K1.replaceAll('+', '\\+'), 'g')) ?? []).length, 1, out);
});

test('wgm-engine: a name that does not resolve at save time keeps its Endpoint line', () => {
  const text = BASE.replace('Endpoint = 192.168.78.1:51001', 'Endpoint = down.example.net:51001 # flaky');
  const s = stateOfText(text);
  const p = s.device.peers[0]!;
  p.endpoints.push({ addr: ep('198.51.100.1', 7) });
  p.endpointStates = p.endpoints.map((e) => ({ addr: e.addr!, state: 'standby' }));
  const out = check(text, s);
  assert.match(
    out,
    /Endpoint = 192\.168\.77\.1:51001\nEndpoint = down\.example\.net:51001 # flaky\nEndpoint = 198\.51\.100\.1:7\n/,
  );
  // Out of order: rewritten, the name still kept (last).
  p.endpoints.reverse();
  p.endpointStates = p.endpoints.map((e) => ({ addr: e.addr!, state: 'standby' }));
  const out2 = check(text, s);
  assert.match(
    out2,
    /Endpoint = 198\.51\.100\.1:7\nEndpoint = 192\.168\.77\.1:51001\nEndpoint = down\.example\.net:51001\n/,
  );
});

test('the config corpora: every file that parses comes back byte for byte, and takes changes', () => {
  const dirs = ['test/fixtures/quick', 'test/fixtures/configs/valid', 'test/fixtures/configs/extension'];
  let edited = 0;
  for (const dir of dirs) {
    const files = readdirSync(join(ROOT, dir), { withFileTypes: true }).filter((e) => e.isFile());
    for (const name of files.map((e) => e.name).filter((n) => n.endsWith('.conf'))) {
      const bytes = readFileSync(join(ROOT, dir, name));
      const utf8 = Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
      const text = bytes.toString(utf8 ? 'utf8' : 'latin1');
      let state: SaveState;
      try {
        state = stateOfText(text);
      } catch {
        continue; // wg or wg-quick rejects it: save would not get this far
      }
      const keys = state.device.peers.map((p) => Buffer.from(p.publicKey!).toString('base64'));
      // No backend reports one key twice: a file that repeats one is not a running state.
      if (new Set(keys).size !== keys.length) continue;
      assert.equal(editConfig(text, state), text, `${dir}/${name}`);
      state.addresses = [...state.addresses.slice(1), '10.99.0.1/32'];
      state.device.listenPort = 4242;
      const p = newPeer({ publicKey: keyFromBase64(K3)! });
      p.endpoints = [{ addr: ep('203.0.113.1', 1) }];
      p.endpointStates = [{ addr: ep('203.0.113.1', 1), state: 'active' }];
      state.device.peers = [...state.device.peers.slice(1), p];
      const out = editConfig(text, state);
      assert.doesNotThrow(() => stateOfText(out), `${dir}/${name}\n${out}`);
      assert.equal(stateDifference(stateOfText(out), state), undefined, `${dir}/${name}\n${out}`);
      edited++;
    }
  }
  assert.ok(edited >= 40, `${edited} files edited`);
});
