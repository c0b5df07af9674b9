// Property test of the save editor: random config files in random layouts (comments, empty
// lines, key case, `Key=value`, lists split over lines, several Endpoint lines), random run-time
// changes, and three laws:
//   edit(text, stateOf(text)) == text            (nothing changed: not one byte moves)
//   stateOf(edit(text, state)) describes state   (what is written is what runs)
//   edit(edit(text, state), state) == edit(text, state)
// Seeded; the seed is printed on failure (rerun with WGM_SEED).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editConfig } from '../../../src/config/edit.js';
import { type SaveState, stateDifference, stateOfText } from '../../../src/config/saved.js';
import { keyToBase64 } from '../../../src/crypto/keys.js';
import { type Device, newPeer, type Peer, type SockAddr } from '../../../src/model/index.js';
import { formatAllowedIP, formatSockAddr } from '../../../src/model/inet.js';
import { Rng, testSeed } from '../../lib/rng.js';
import { randomDevice } from './random-model.js';

const CASES = 400;

/** Host names written into the current case's file, and the addresses they stand for. */
const resolved = new Map<string, SockAddr>();

function addr(rng: Rng): string {
  if (rng.chance(0.6)) {
    const a = `10.${rng.int(4)}.${rng.int(4)}.${1 + rng.int(9)}`;
    return rng.chance(0.3) ? a : `${a}/${rng.pick([8, 24, 32])}`;
  }
  const a = `fd00:${rng.int(3).toString(16)}::${(1 + rng.int(20)).toString(16)}`;
  return rng.chance(0.3) ? a : `${a}/${rng.pick([64, 128])}`;
}

const nameserver = (rng: Rng) => rng.pick(['10.0.9.1', '1.1.1.1', 'fd00::53', '9.9.9.9', '2001:db8::1']);
const domain = (rng: Rng) => rng.pick(['example.com', 'corp.internal', 'lan']);

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** Lines of a list key, the words spread over 1-3 lines with varied separators. */
function listLines(rng: Rng, key: string, words: string[], w: Writer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < words.length) {
    const n = 1 + rng.int(words.length - i);
    out.push(w.kv(key, words.slice(i, i + n).join(rng.pick([', ', ',', ' , ']))));
    i += n;
  }
  return out;
}

class Writer {
  constructor(
    readonly rng: Rng,
    readonly compact: boolean,
  ) {}
  kv(key: string, value: string): string {
    const k = this.rng.chance(0.15) ? key.toLowerCase() : key;
    const line = this.compact ? `${k}=${value}` : `${k} = ${value}`;
    return this.rng.chance(0.15) ? `${line}  # note ${this.rng.int(100)}` : line;
  }
  noise(): string[] {
    const r = this.rng.int(10);
    if (r < 6) return [];
    if (r < 8) return [''];
    return [`# comment ${this.rng.int(1000)}`];
  }
}

function peerLines(rng: Rng, p: Peer, w: Writer): string[] {
  const groups: string[][] = [[w.kv('PublicKey', keyToBase64(p.publicKey!))]];
  if (p.presharedKey) groups.push([w.kv('PresharedKey', keyToBase64(p.presharedKey))]);
  if (p.allowedIPs.length > 0)
    groups.push(listLines(rng, 'AllowedIPs', p.allowedIPs.map(formatAllowedIP), w));
  // Some endpoints are written as host names, resolved through the case's `resolved` map.
  const eps = p.endpoints.map((e) => {
    if (!rng.chance(0.2)) return formatSockAddr(e.addr!);
    const spec = `h${resolved.size}.example.net:${e.addr!.port}`;
    resolved.set(spec, e.addr!);
    return spec;
  });
  if (eps.length > 0)
    groups.push(rng.chance(0.3) ? listLines(rng, 'Endpoint', eps, w) : eps.map((e) => w.kv('Endpoint', e)));
  if (p.persistentKeepalive) groups.push([w.kv('PersistentKeepalive', String(p.persistentKeepalive))]);
  for (let i = groups.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [groups[i], groups[j]] = [groups[j]!, groups[i]!];
  }
  return groups.flatMap((g) => [...g.flatMap((l) => [l, ...w.noise().filter((n) => n !== '')])]);
}

function randomText(rng: Rng): string {
  const w = new Writer(rng, rng.chance(0.2));
  const d: Device = randomDevice(rng);
  const lines: string[] = [...w.noise(), rng.chance(0.1) ? '[interface]' : '[Interface]'];
  const iface: string[][] = [];
  const addrs = unique(Array.from({ length: rng.int(4) }, () => addr(rng)));
  if (addrs.length) iface.push(listLines(rng, 'Address', addrs, w));
  const dns = unique([
    ...Array.from({ length: rng.int(3) }, () => nameserver(rng)),
    ...Array.from({ length: rng.int(2) }, () => domain(rng)),
  ]);
  if (dns.length) iface.push(listLines(rng, 'DNS', dns, w));
  if (rng.chance(0.3)) iface.push([w.kv('MTU', String(1280 + rng.int(200)))]);
  if (rng.chance(0.2)) iface.push([w.kv('Table', rng.pick(['off', 'auto', '1234']))]);
  if (rng.chance(0.2)) iface.push([w.kv('SaveConfig', rng.pick(['true', 'false', 'True']))]);
  if (rng.chance(0.3)) iface.push([w.kv('PostUp', 'echo up %i')]);
  if (d.listenPort) iface.push([w.kv('ListenPort', String(d.listenPort))]);
  if (d.fwmark) iface.push([w.kv('FwMark', `0x${d.fwmark.toString(16)}`)]);
  if (d.privateKey) iface.push([w.kv('PrivateKey', keyToBase64(d.privateKey))]);
  for (const g of iface) lines.push(...g, ...w.noise().filter((n) => n !== ''));
  for (const p of d.peers) {
    lines.push('', ...w.noise(), '[Peer]', ...peerLines(rng, p, w));
  }
  const eol = rng.chance(0.1) ? '\r\n' : '\n';
  return `${lines.join(eol)}${rng.chance(0.9) ? eol : ''}`;
}

function mutateList<T>(rng: Rng, xs: T[], fresh: () => T): T[] {
  let out = xs.filter(() => rng.chance(0.75));
  if (rng.chance(0.4)) out.push(fresh());
  if (rng.chance(0.1)) out = out.reverse();
  return out;
}

/** Random run-time changes, on a backend that holds every endpoint. */
function change(rng: Rng, s: SaveState): SaveState {
  const r: SaveState = structuredClone(s);
  if (rng.chance(0.5)) r.addresses = unique(mutateList(rng, r.addresses, () => addr(rng)));
  if (rng.chance(0.3)) r.dns = unique(mutateList(rng, r.dns, () => nameserver(rng)));
  if (rng.chance(0.2)) r.dnsSearch = unique(mutateList(rng, r.dnsSearch ?? [], () => domain(rng)));
  if (rng.chance(0.2)) r.mtu = rng.chance(0.3) ? undefined : String(1300 + rng.int(100));
  if (rng.chance(0.1)) r.saveConfig = !r.saveConfig;
  if (rng.chance(0.1)) r.postDown = rng.chance(0.5) ? [] : ['echo down %i', 'true'];
  const other = randomDevice(rng);
  const d = r.device;
  if (rng.chance(0.3)) d.listenPort = other.listenPort;
  if (rng.chance(0.3)) d.fwmark = other.fwmark;
  if (rng.chance(0.1)) d.privateKey = other.privateKey;
  d.peers = mutateList(rng, d.peers, () => other.peers[0] ?? newPeer({ publicKey: rng.bytes(32) }));
  const seen = new Set<string>();
  d.peers = d.peers.filter((p) => {
    const k = keyToBase64(p.publicKey!);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  for (const p of d.peers) {
    const donor = randomDevice(rng).peers[0];
    if (rng.chance(0.3))
      p.allowedIPs = mutateList(rng, p.allowedIPs, () => donor?.allowedIPs[0] ?? p.allowedIPs[0]!).filter(
        Boolean,
      );
    if (rng.chance(0.3))
      p.endpoints = mutateList(rng, p.endpoints, () => donor?.endpoints[0] ?? p.endpoints[0]!).filter(
        Boolean,
      );
    if (rng.chance(0.1)) p.presharedKey = rng.chance(0.5) ? undefined : rng.bytes(32);
    if (rng.chance(0.1)) p.persistentKeepalive = rng.int(3) * 25;
    p.endpointStates = p.endpoints.map((e) => ({ addr: e.addr!, state: 'unknown' as const }));
  }
  return r;
}

/** The same state read from a backend that holds one endpoint per peer. */
function singleEndpoint(rng: Rng, s: SaveState): SaveState {
  const r: SaveState = structuredClone(s);
  for (const p of r.device.peers) {
    p.endpointStates = undefined;
    p.endpoints = p.endpoints.length > 0 ? [rng.pick(p.endpoints)] : [];
  }
  return r;
}

test('save editor: random files, random run-time changes', () => {
  const seed = testSeed();
  const rng = new Rng(seed);
  for (let i = 0; i < CASES; i++) {
    resolved.clear();
    const text = randomText(rng);
    const ctx = `seed ${seed}, case ${i}\n--- file ---\n${text}`;
    const original = stateOfText(text, resolved);
    assert.equal(editConfig(text, original, { resolved }), text, ctx);
    for (const state of [change(rng, original), singleEndpoint(rng, change(rng, original))]) {
      const out = editConfig(text, state, { resolved });
      const more = `${ctx}\n--- state ---\n${JSON.stringify(state, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v))}\n--- out ---\n${out}`;
      assert.equal(stateDifference(stateOfText(out, resolved), state), undefined, more);
      assert.equal(editConfig(out, state, { resolved }), out, more);
    }
  }
});
