// The printers of `wg show`: pretty (coloured, sorted), the field outputs and `dump`, byte for
// byte as wireguard-tools v1.0.20210914 prints them (src/show.c: pretty_print, ugly_print,
// dump_print), including the 2021 `show all endpoints` bug. wgm's one addition: a peer whose
// backend reports several candidate endpoints gets one `candidate:` line per candidate in
// pretty output, right after `endpoint:`, then `endpoint policy: preference` and `roaming: off`
// where the backend reports those knobs away from their defaults.

import { keyToBase64 } from '../crypto/keys.js';
import type { Device, EndpointState, Key, Peer } from '../model/index.js';
import { wgEndpoint } from '../model/index.js';
import { formatAllowedIP, formatSockAddr } from '../model/inet.js';
import { ago, BOLD, bytes, every, FG_CYAN, FG_GREEN, FG_RED, FG_YELLOW, fixed2, RESET } from './format.js';

export const FIELDS = [
  'public-key',
  'private-key',
  'listen-port',
  'fwmark',
  'peers',
  'preshared-keys',
  'endpoints',
  'allowed-ips',
  'latest-handshakes',
  'transfer',
  'persistent-keepalive',
  'dump',
] as const;

export interface PrettyOptions {
  /** Each terminal_printf chunk goes through this (identity when colour is on, wg's filter when off). */
  tp: (chunk: string) => string;
  /** WG_HIDE_KEYS=never shows private and preshared keys. */
  showKeys: boolean;
  now?: bigint;
}

const ZERO = 0n;

function handshakeIsZero(p: Peer): boolean {
  return (p.lastHandshake?.sec ?? ZERO) === ZERO && (p.lastHandshake?.nsec ?? 0) === 0;
}

/** wg's peer_cmp: most recent handshake first, never-handshaked last; a stable sort keeps ties in backend order. */
export function sortPeers(peers: Peer[]): Peer[] {
  return [...peers].sort((a, b) => {
    const az = handshakeIsZero(a);
    const bz = handshakeIsZero(b);
    if (az && !bz) return 1;
    if (bz && !az) return -1;
    const as = a.lastHandshake?.sec ?? ZERO;
    const bs = b.lastHandshake?.sec ?? ZERO;
    if (as !== bs) return as < bs ? 1 : -1;
    const an = a.lastHandshake?.nsec ?? 0;
    const bn = b.lastHandshake?.nsec ?? 0;
    if (an !== bn) return an < bn ? 1 : -1;
    return 0;
  });
}

function key(k: Key | undefined): string {
  return k ? keyToBase64(k) : '(none)';
}

function masked(k: Key, o: PrettyOptions): string {
  return o.showKeys ? keyToBase64(k) : '(hidden)';
}

const STATE_COLOUR: Record<EndpointState['state'], string> = {
  active: FG_GREEN,
  standby: '',
  probing: FG_YELLOW,
  failed: FG_RED,
  unknown: '',
};

/** wgm's candidate line: `  candidate: <addr> (<state>[, rtt <ms> ms][, seen <ago>])`. */
function candidateLine(c: EndpointState, now: bigint | undefined): string {
  const colour = STATE_COLOUR[c.state];
  let detail = colour ? `${colour}${c.state}${RESET}` : c.state;
  if (c.rttMs !== undefined) detail += `, rtt ${fixed2(Math.max(0, c.rttMs))} ${FG_CYAN}ms${RESET}`;
  if (c.lastSeenSec) detail += `, seen ${ago(BigInt(Math.trunc(c.lastSeenSec)), now)}`;
  return `  ${BOLD}candidate${RESET}: ${formatSockAddr(c.addr)} (${detail})\n`;
}

/** Pretty output of one device, as a string (the chunks already filtered). */
export function pretty(device: Device, name: string, o: PrettyOptions): string {
  const out: string[] = [];
  const tp = (s: string) => out.push(o.tp(s));
  tp(RESET);
  tp(`${FG_GREEN}${BOLD}interface${RESET}: ${FG_GREEN}${name}${RESET}\n`);
  if (device.publicKey) tp(`  ${BOLD}public key${RESET}: ${keyToBase64(device.publicKey)}\n`);
  if (device.privateKey) tp(`  ${BOLD}private key${RESET}: ${masked(device.privateKey, o)}\n`);
  if (device.listenPort) tp(`  ${BOLD}listening port${RESET}: ${device.listenPort}\n`);
  if (device.fwmark) tp(`  ${BOLD}fwmark${RESET}: 0x${(device.fwmark >>> 0).toString(16)}\n`);
  const peers = sortPeers(device.peers);
  if (peers.length > 0) tp('\n');
  peers.forEach((peer, i) => {
    tp(`${FG_YELLOW}${BOLD}peer${RESET}: ${FG_YELLOW}${key(peer.publicKey)}${RESET}\n`);
    if (peer.presharedKey) tp(`  ${BOLD}preshared key${RESET}: ${masked(peer.presharedKey, o)}\n`);
    const ep = wgEndpoint(peer);
    if (ep) tp(`  ${BOLD}endpoint${RESET}: ${formatSockAddr(ep)}\n`);
    if (peer.endpointStates && peer.endpointStates.length > 1) {
      for (const c of peer.endpointStates) tp(candidateLine(c, o.now));
    }
    // wgm's selection knobs, where not their defaults (latency, roaming on).
    if (peer.policy === 'preference') tp(`  ${BOLD}endpoint policy${RESET}: preference\n`);
    if (peer.roaming === false) tp(`  ${BOLD}roaming${RESET}: off\n`);
    tp(`  ${BOLD}allowed ips${RESET}: `);
    if (peer.allowedIPs.length > 0) {
      peer.allowedIPs.forEach((ip, j) => {
        const text = formatAllowedIP(ip);
        const slash = text.lastIndexOf('/');
        const sep = j + 1 < peer.allowedIPs.length ? ', ' : '\n';
        tp(`${text.slice(0, slash)}${FG_CYAN}/${RESET}${text.slice(slash + 1)}${sep}`);
      });
    } else tp('(none)\n');
    const hs = peer.lastHandshake?.sec ?? ZERO;
    if (hs !== ZERO) tp(`  ${BOLD}latest handshake${RESET}: ${ago(hs, o.now)}\n`);
    const rx = peer.rxBytes ?? ZERO;
    const tx = peer.txBytes ?? ZERO;
    if (rx !== ZERO || tx !== ZERO) {
      tp(`  ${BOLD}transfer${RESET}: `);
      tp(`${bytes(rx)} received, `);
      tp(`${bytes(tx)} sent\n`);
    }
    if (peer.persistentKeepalive)
      tp(`  ${BOLD}persistent keepalive${RESET}: ${every(peer.persistentKeepalive)}\n`);
    if (i + 1 < peers.length) tp('\n');
  });
  return out.join('');
}

function endpointText(peer: Peer): string {
  const ep = wgEndpoint(peer);
  return ep ? formatSockAddr(ep) : '(none)';
}

function fwmarkText(d: Device): string {
  return d.fwmark ? `0x${(d.fwmark >>> 0).toString(16)}` : 'off';
}

/** `dump`: one interface line, one line per peer, TAB-separated; with `all`, every line prefixed. */
function dump(d: Device, name: string, withIf: boolean): string {
  const pre = withIf ? `${name}\t` : '';
  let s = `${pre}${key(d.privateKey)}\t${key(d.publicKey)}\t${d.listenPort ?? 0}\t${fwmarkText(d)}\n`;
  for (const p of d.peers) {
    const ips = p.allowedIPs.length > 0 ? p.allowedIPs.map(formatAllowedIP).join(',') : '(none)';
    const ka = p.persistentKeepalive ? String(p.persistentKeepalive) : 'off';
    s += `${pre}${key(p.publicKey)}\t${key(p.presharedKey)}\t${endpointText(p)}\t${ips}\t`;
    s += `${p.lastHandshake?.sec ?? 0n}\t${p.rxBytes ?? 0n}\t${p.txBytes ?? 0n}\t${ka}\n`;
  }
  return s;
}

/**
 * One field output (wg's ugly_print), or undefined for an unknown field. `name` is the device
 * name printed with `all`.
 */
export function field(d: Device, name: string, f: string, withIf: boolean): string | undefined {
  const pre = withIf ? `${name}\t` : '';
  const perPeer = (line: (p: Peer) => string) => d.peers.map((p) => `${pre}${line(p)}\n`).join('');
  switch (f) {
    case 'public-key':
      return `${pre}${key(d.publicKey)}\n`;
    case 'private-key':
      return `${pre}${key(d.privateKey)}\n`;
    case 'listen-port':
      return `${pre}${d.listenPort ?? 0}\n`;
    case 'fwmark':
      return `${pre}${fwmarkText(d)}\n`;
    case 'endpoints':
      // wg 1.0.20210914 prints the interface name once, before the first peer (even with no peer,
      // leaving the line unterminated); fixed upstream in 2023 (b4f6b4f).
      return pre + d.peers.map((p) => `${key(p.publicKey)}\t${endpointText(p)}\n`).join('');
    case 'allowed-ips':
      return perPeer(
        (p) =>
          `${key(p.publicKey)}\t${p.allowedIPs.length > 0 ? p.allowedIPs.map(formatAllowedIP).join(' ') : '(none)'}`,
      );
    case 'latest-handshakes':
      return perPeer((p) => `${key(p.publicKey)}\t${p.lastHandshake?.sec ?? 0n}`);
    case 'transfer':
      return perPeer((p) => `${key(p.publicKey)}\t${p.rxBytes ?? 0n}\t${p.txBytes ?? 0n}`);
    case 'persistent-keepalive':
      return perPeer((p) => `${key(p.publicKey)}\t${p.persistentKeepalive ? p.persistentKeepalive : 'off'}`);
    case 'preshared-keys':
      return perPeer((p) => `${key(p.publicKey)}\t${key(p.presharedKey)}`);
    case 'peers':
      return perPeer((p) => key(p.publicKey));
    case 'dump':
      return dump(d, name, withIf);
    default:
      return undefined;
  }
}
