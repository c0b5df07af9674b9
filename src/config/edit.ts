// The format-preserving editor behind `wgm save`: the text of an existing config file plus the
// running state (saved.ts) in, the new text out. Pure: no file, no clock, no network.
//
// wg-quick's save_config (wireguard-tools src/wg-quick/linux.bash) rebuilds the whole file from
// the running state, losing comments, order, key spelling and every Endpoint line but the
// active one. This editor changes only what differs from the running state:
//   - a value that changed is rewritten in place (key spelling, spacing and a trailing
//     `# comment` of the line kept); a single-valued key that is gone is deleted;
//   - list keys (Address, DNS, AllowedIPs, Endpoint) keep the words that are still there as
//     they were written (`10.0.0.1` stays even though `ip` says `10.0.0.1/32`), lose the ones
//     that are gone (a line left empty is deleted), and new words go on one new line after the
//     key's last line. Nameservers and the endpoints of a backend that holds several keep
//     their order: when the kept words would be out of order, the key's lines are rewritten;
//   - a peer that is no longer there is deleted with its section and the comment lines
//     directly above its `[Peer]` line (no empty line between): those describe the peer.
//     Comments separated from the header by an empty line stay. A new peer is appended;
//   - on a backend that holds one endpoint per peer, a peer's Endpoint lines stay as they are
//     while the active endpoint is among them (they are the candidates wgm-engine would use);
//     otherwise they become the one active endpoint, as wg-quick would write it.
// A hostname in an Endpoint line matches the address it resolved to, through `resolved`.
// New lines follow the file's style (`Key = value` or `Key=value`, CRLF line ends).

import { keyToBase64 } from '../crypto/keys.js';
import { type Device, isZeroKey, type Peer, type SockAddr } from '../model/index.js';
import { formatAllowedIP, formatSockAddr } from '../model/inet.js';
import { type Lines, quickWords, type Section, scanLines, wgWords } from './edit-lines.js';
import { Editor, lastValue, type Target } from './edit-ops.js';
import { parseQuickConfig } from './quick.js';
import {
  normAddress,
  normAllowedIP,
  normEndpointSpec,
  normNameserver,
  type ResolvedSpecs,
  runningEndpoints,
  type SaveState,
} from './saved.js';
import { parseFwmark, parseKeepalive, parseKey, parsePort } from './values.js';

export interface EditOptions {
  /** Where the file's endpoint hostnames resolved to (spec → address). */
  resolved?: ResolvedSpecs;
}

/** A public key's text; the all-zero key is a key like any other here. */
const pubText = (k: Uint8Array | undefined) => keyToBase64(k ?? new Uint8Array(32));
const keyText = (k: Uint8Array | undefined) => (k && !isZeroKey(k) ? keyToBase64(k) : undefined);
const target = (norm: string | undefined, text = norm): Target | undefined =>
  norm === undefined ? undefined : { norm, text: text! };

/** Writes the running state into the config text; see the file comment. */
export function editConfig(text: string, state: SaveState, opts: EditOptions = {}): string {
  const f = scanLines(text);
  // New keys go into an [Interface] section that both wg and wg-quick read as one (wg-quick
  // does not take `[ Interface ]`); without one, a header is added at the top.
  const iface = (sec: Section) => sec.kind === 'interface' && f.lines[sec.header]!.quickIface;
  if (!f.sections.some(iface)) {
    // A header for the keys to go under; taken away again when none went there.
    const header = `[Interface]${f.crlf ? '\r' : ''}\n`;
    const out = editConfig(header + text, state, opts);
    const next = out.slice(header.length).split('\n', 1)[0]!;
    return next.trim() === '' || next.trim().startsWith('[') || next.trim().startsWith('#')
      ? out.slice(header.length)
      : out;
  }
  const ed = new Editor(f);
  editInterface(ed, f, text, state);
  editPeers(ed, f, state.device, opts.resolved);
  return ed.build();
}

function editInterface(ed: Editor, f: Lines, text: string, state: SaveState): void {
  const sec = f.sections.find((s) => s.kind === 'interface' && f.lines[s.header]!.quickIface)!;
  const anchor = ed.anchor(sec);
  const q = parseQuickConfig(text);
  const quick = (k: string) => f.lines.flatMap((l, i) => (l.quickIface && l.quickKey === k ? [i] : []));
  const wgIface = (k: string) =>
    f.lines.flatMap((l, i) =>
      l.section >= 0 && f.sections[l.section]!.kind === 'interface' && l.wgKey === k ? [i] : [],
    );
  const words = (items: number[]) =>
    items.map((line) => ({ line, words: quickWords(f.lines[line]!.quickValue) }));

  ed.list(
    words(quick('address')),
    normAddress,
    state.addresses.map((a) => ({ norm: normAddress(a), text: a })),
    { key: 'Address', anchor, perLine: false, unordered: true, inOrder: () => true },
  );
  const dnsNorm = (w: string) =>
    /^[0-9.]+$/.test(w) || w.includes(':') ? `ns ${normNameserver(w)}` : `search ${w}`;
  const search = state.dnsSearch ?? q.dnsSearch;
  const dnsTargets = [...state.dns, ...search].map((w) => ({ norm: dnsNorm(w), text: w }));
  const wanted = dnsTargets.map((t) => t.norm);
  const only = (xs: string[], kind: string) => xs.filter((x) => x.startsWith(kind)).join('\n');
  ed.list(words(quick('dns')), dnsNorm, dnsTargets, {
    key: 'DNS',
    anchor,
    perLine: false,
    // Nameservers keep their order, and so do search domains; how the two mix does not matter.
    inOrder: (r) => ['ns ', 'search '].every((k) => only(r, k) === only(wanted, k)),
  });
  ed.single(quick('mtu'), q.mtu || undefined, target(state.mtu || undefined), 'MTU', anchor);
  ed.single(quick('table'), q.table, target(state.table), 'Table', anchor);
  ed.single(
    quick('saveconfig'),
    q.saveConfig ? 'true' : undefined,
    target(state.saveConfig ? 'true' : undefined),
    'SaveConfig',
    anchor,
  );
  const hooks = [
    ['preup', 'PreUp', q.preUp, state.preUp],
    ['postup', 'PostUp', q.postUp, state.postUp],
    ['predown', 'PreDown', q.preDown, state.preDown],
    ['postdown', 'PostDown', q.postDown, state.postDown],
  ] as const;
  for (const [k, key, current, wanted] of hooks) {
    if (current.length === wanted.length && current.every((c, i) => c === wanted[i])) continue;
    const items = quick(k);
    for (const i of items) ed.drop(i);
    for (const c of wanted) ed.insert(items[0] ?? anchor, ed.line(key, c));
  }

  const d = state.device;
  const port = (v: string) => String(parsePort(v) || '') || undefined;
  ed.single(
    wgIface('listenport'),
    lastValue(f, wgIface('listenport'), port),
    target(d.listenPort ? String(d.listenPort) : undefined),
    'ListenPort',
    anchor,
  );
  const mark = (n: number | undefined) => (n ? `0x${(n >>> 0).toString(16)}` : undefined);
  ed.single(
    wgIface('fwmark'),
    lastValue(f, wgIface('fwmark'), (v) => mark(parseFwmark(v))),
    target(mark(d.fwmark)),
    'FwMark',
    anchor,
  );
  ed.single(
    wgIface('privatekey'),
    lastValue(f, wgIface('privatekey'), (v) => keyText(parseKey(v))),
    target(keyText(d.privateKey)),
    'PrivateKey',
    anchor,
  );
}

function editPeers(ed: Editor, f: Lines, device: Device, resolved: ResolvedSpecs | undefined): void {
  const running = new Map(device.peers.map((p) => [pubText(p.publicKey), p]));
  const seen = new Set<string>();
  const bySection = f.sections.map(() => [] as number[]);
  f.lines.forEach((l, i) => {
    if (l.section >= 0 && l.wgKey !== '') bySection[l.section]!.push(i);
  });
  f.sections.forEach((sec, s) => {
    if (sec.kind !== 'peer') return;
    const inSec = (k: string) => bySection[s]!.filter((i) => f.lines[i]!.wgKey === k);
    const name = lastValue(f, inSec('publickey'), (v) => keyToBase64(parseKey(v))) ?? '';
    const peer = running.get(name);
    if (!peer || seen.has(name)) {
      removeSection(ed, f, sec);
      return;
    }
    seen.add(name);
    editPeer(ed, f, sec, inSec, peer, resolved);
  });
  for (const peer of device.peers) {
    if (seen.has(pubText(peer.publicKey))) continue;
    if (ed.tail.length > 0) ed.tail.push(ed.f.crlf ? '\r' : '');
    ed.tail.push(...newPeerLines(ed, peer));
  }
}

function removeSection(ed: Editor, f: Lines, sec: Section): void {
  let start = sec.start;
  // At the end of the file, the empty lines that separated it from what precedes go too.
  if (sec.end === f.lines.length) while (start > 0 && f.lines[start - 1]!.raw.trim() === '') start--;
  for (let i = start; i < sec.end; i++) ed.drop(i);
}

function editPeer(
  ed: Editor,
  f: Lines,
  sec: Section,
  inSec: (k: string) => number[],
  peer: Peer,
  resolved: ResolvedSpecs | undefined,
): void {
  const anchor = ed.anchor(sec);
  const psk = inSec('presharedkey');
  ed.single(
    psk,
    lastValue(f, psk, (v) => keyText(parseKey(v))),
    target(keyText(peer.presharedKey)),
    'PresharedKey',
    anchor,
  );
  const words = (items: number[]) => items.map((line) => ({ line, words: wgWords(f.lines[line]!.wgValue) }));
  const ipNorm = (w: string) => normAllowedIP(w) ?? `invalid ${w}`;
  ed.list(
    words(inSec('allowedips')),
    ipNorm,
    peer.allowedIPs.map((ip) => ({ norm: ipNorm(formatAllowedIP(ip)), text: formatAllowedIP(ip) })),
    { key: 'AllowedIPs', anchor, perLine: false, unordered: true, inOrder: () => true },
  );
  const epItems = words(inSec('endpoint'));
  const epNorm = (w: string) => normEndpointSpec(w, resolved);
  const run = runningEndpoints(peer);
  const targets = run.list.map((a: SockAddr) => ({ norm: formatSockAddr(a), text: formatSockAddr(a) }));
  const fileNorms = epItems.flatMap((it) => it.words.map(epNorm));
  const keepAll = !run.all && targets.length === 1 && fileNorms.includes(targets[0]!.norm);
  if (!keepAll) {
    const wanted = targets.map((t) => t.norm).join('\n');
    ed.list(epItems, epNorm, targets, {
      key: 'Endpoint',
      anchor,
      perLine: true,
      // A name that does not resolve now is no address the backend could hold: on a backend
      // that holds every candidate, or for a peer with no endpoint yet, it stays, so that a
      // name down at save time is not lost.
      sticky: run.all || run.list.length === 0 ? (w) => epNorm(w).startsWith('unresolved ') : undefined,
      inOrder: (r) => r.join('\n') === wanted,
    });
  }
  const ka = inSec('persistentkeepalive');
  const kaText = (n: number | undefined) => (n ? String(n) : undefined);
  ed.single(
    ka,
    lastValue(f, ka, (v) => kaText(parseKeepalive(v))),
    target(kaText(peer.persistentKeepalive)),
    'PersistentKeepalive',
    anchor,
  );
}

function newPeerLines(ed: Editor, peer: Peer): string[] {
  const out = [`[Peer]${ed.f.crlf ? '\r' : ''}`, ed.line('PublicKey', pubText(peer.publicKey))];
  const psk = keyText(peer.presharedKey);
  if (psk) out.push(ed.line('PresharedKey', psk));
  if (peer.allowedIPs.length > 0)
    out.push(ed.line('AllowedIPs', peer.allowedIPs.map(formatAllowedIP).join(', ')));
  for (const a of runningEndpoints(peer).list) out.push(ed.line('Endpoint', formatSockAddr(a)));
  if (peer.persistentKeepalive) out.push(ed.line('PersistentKeepalive', String(peer.persistentKeepalive)));
  return out;
}
