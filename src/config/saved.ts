// What `save` writes back to a config file: the running state of an interface, in the shape
// wg-quick's `save_config` (wireguard-tools src/wg-quick/linux.bash) gathers it, and the
// comparison that says whether a config file describes that state.
//
// save_config writes `[Interface]`, then Address (every address `ip -brief address` lists),
// DNS (the nameservers of the interface's resolvconf record), MTU (the link's, only when the
// file set one), Table, SaveConfig and the four hook kinds (verbatim from the file), then
// `wg showconf IF` without its own `[Interface]` line. wgm writes the same state, but into the
// existing text (see edit.ts); wgQuickText() below is the whole-file form, used where there is
// no text to keep and as the fallback when an edit would not read back as the state.
//
// The comparison treats as equal what the tools treat as equal: addresses as a set (their order
// in `ip` output is the kernel's), `10.0.0.1` and `10.0.0.1/32`, allowed IPs with host bits
// masked (the backends mask them), an absent key and its zero value (ListenPort 0, FwMark 0,
// PersistentKeepalive off, an empty MTU). Nameservers and endpoints keep their order.

import { keyToBase64 } from '../crypto/keys.js';
import { type Device, isZeroKey, type Peer, type SockAddr } from '../model/index.js';
import { formatSockAddr, inetNtop, inetPton4, inetPton6 } from '../model/inet.js';
import { parseConfig } from './parse.js';
import { parseQuickConfig } from './quick.js';
import { serializeConfig } from './serialize.js';
import { parseAllowedIPs, splitEndpoint } from './values.js';

/** The running state of an interface, as `save` writes it. */
export interface SaveState {
  /** Addresses as `ip -brief address` prints them (`10.0.0.5/24`, `fe80::1/64`). */
  addresses: string[];
  /** Nameservers, in resolvconf order. */
  dns: string[];
  /**
   * DNS search domains. wg-quick's save drops them (they are not in the running state it
   * reads); undefined means "keep the file's", which is what wgm's save does.
   */
  dnsSearch?: string[];
  /** The link's MTU, only when the config set one. */
  mtu?: string;
  table?: string;
  saveConfig: boolean;
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  /** The WireGuard part, as read from the backend. */
  device: Device;
}

/** Where hostnames in a file's Endpoint lines resolved to (spec as written, whitespace removed). */
export type ResolvedSpecs = ReadonlyMap<string, SockAddr>;

/** A peer's endpoints as the backend reports them. */
export interface RunningEndpoints {
  /** True when the backend holds every candidate (wgm-engine); false: one endpoint, the active one. */
  all: boolean;
  list: SockAddr[];
}

export function runningEndpoints(peer: Peer): RunningEndpoints {
  if (peer.endpointStates && peer.endpointStates.length > 0) {
    return { all: true, list: peer.endpoints.flatMap((e) => (e.addr ? [e.addr] : [])) };
  }
  const active = peer.activeEndpoint ?? peer.endpoints[peer.endpoints.length - 1]?.addr;
  return { all: false, list: active ? [active] : [] };
}

// ---- normal forms ----

function ipText(text: string): string | undefined {
  const b = text.includes(':') ? inetPton6(text) : inetPton4(text);
  return b ? inetNtop(b) : undefined;
}

/** `10.0.0.5/24` → same; `10.0.0.5` → `10.0.0.5/32`; v6 re-printed; anything else as written. */
export function normAddress(word: string): string {
  const slash = word.indexOf('/');
  const host = slash < 0 ? word : word.slice(0, slash);
  const ip = ipText(host);
  if (ip === undefined) return word;
  const cidr = slash < 0 ? (ip.includes(':') ? '128' : '32') : word.slice(slash + 1);
  return `${ip}/${/^\d+$/.test(cidr) ? String(Number(cidr)) : cidr}`;
}

/** A nameserver (`fe80::1%eth0` allowed, as save_config's pattern allows). */
export function normNameserver(word: string): string {
  const pct = word.indexOf('%');
  const ip = ipText(pct < 0 ? word : word.slice(0, pct));
  return ip === undefined ? word : pct < 0 ? ip : ip + word.slice(pct);
}

/** An allowed IP with host bits cleared, as the backends hold it; undefined if it does not parse. */
export function normAllowedIP(word: string): string | undefined {
  try {
    const ip = parseAllowedIPs(word).ips[0];
    if (!ip) return undefined;
    const a = Uint8Array.from(ip.address);
    for (let bit = ip.cidr; bit < a.length * 8; bit++) a[bit >> 3]! &= ~(0x80 >> (bit & 7));
    return `${inetNtop(a)}/${ip.cidr}`;
  } catch {
    return undefined;
  }
}

/** A numeric endpoint spec (`1.2.3.4:5`, `[fe80::1%2]:5`) as a socket address. */
export function numericEndpoint(spec: string): SockAddr | undefined {
  let host: string;
  let port: string;
  try {
    ({ host, port } = splitEndpoint(spec));
  } catch {
    return undefined;
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  const pct = host.indexOf('%');
  const bare = pct < 0 ? host : host.slice(0, pct);
  if (inetPton4(bare) && pct < 0) return { family: 4, address: bare, port: Number(port) };
  if (!inetPton6(bare)) return undefined;
  const addr: SockAddr = { family: 6, address: bare, port: Number(port) };
  if (pct >= 0) addr.scope = host.slice(pct + 1);
  return addr;
}

/** An endpoint spec's socket-address text, or a text that matches no address when unknown. */
export function normEndpointSpec(spec: string, resolved?: ResolvedSpecs): string {
  const addr = numericEndpoint(spec) ?? resolved?.get(spec);
  return addr ? formatSockAddr(addr) : `unresolved ${spec}`;
}

// ---- a file read as a state ----

/**
 * The state a config file describes, as if an interface were running exactly what it says:
 * every endpoint a candidate (hostnames through `resolved`; unknown ones are left out).
 * Throws what the parsers throw.
 */
export function stateOfText(text: string, resolved?: ResolvedSpecs): SaveState {
  const q = parseQuickConfig(text);
  const { device } = parseConfig(q.wgConfig.toString('utf8'), { file: 'config' });
  for (const peer of device.peers) {
    const addrs = peer.endpoints.flatMap((e) => {
      const a = numericEndpoint(e.spec!) ?? resolved?.get(e.spec!);
      return a ? [a] : [];
    });
    peer.endpoints = addrs.map((addr) => ({ addr }));
    peer.endpointStates = addrs.map((addr) => ({ addr, state: 'unknown' as const }));
  }
  const state: SaveState = {
    addresses: q.addresses,
    dns: q.dns,
    dnsSearch: q.dnsSearch,
    saveConfig: q.saveConfig,
    preUp: q.preUp,
    postUp: q.postUp,
    preDown: q.preDown,
    postDown: q.postDown,
    device,
  };
  if (q.mtu !== undefined && q.mtu !== '') state.mtu = q.mtu;
  if (q.table !== undefined) state.table = q.table;
  return state;
}

// ---- comparison ----

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return sameList([...new Set(a)].sort(), [...new Set(b)].sort());
}

const pubText = (k: Uint8Array | undefined): string => keyToBase64(k ?? new Uint8Array(32));
const keyText = (k: Uint8Array | undefined): string => (k && !isZeroKey(k) ? keyToBase64(k) : '');

/**
 * The first way in which `file` (a state read from a config file, see stateOfText) does not
 * describe `running`, or undefined when it does. A backend that holds one endpoint per peer is
 * described by a file that lists its active endpoint among others (several Endpoint lines are
 * kept); search domains are compared only when `running` knows them.
 */
export function stateDifference(file: SaveState, running: SaveState): string | undefined {
  if (!sameSet(file.addresses.map(normAddress), running.addresses.map(normAddress))) return 'Address';
  if (!sameList(file.dns.map(normNameserver), running.dns.map(normNameserver))) return 'DNS';
  if (running.dnsSearch && !sameList(file.dnsSearch ?? [], running.dnsSearch)) return 'DNS search domains';
  if ((file.mtu || undefined) !== (running.mtu || undefined)) return 'MTU';
  if (file.table !== running.table) return 'Table';
  if (file.saveConfig !== running.saveConfig) return 'SaveConfig';
  for (const k of ['preUp', 'postUp', 'preDown', 'postDown'] as const)
    if (!sameList(file[k], running[k])) return k;
  const fd = file.device;
  const rd = running.device;
  if (keyText(fd.privateKey) !== keyText(rd.privateKey)) return 'PrivateKey';
  if ((fd.listenPort || 0) !== (rd.listenPort || 0)) return 'ListenPort';
  if ((fd.fwmark || 0) !== (rd.fwmark || 0)) return 'FwMark';
  const filePeers = new Map(fd.peers.map((p) => [pubText(p.publicKey), p]));
  if (filePeers.size !== fd.peers.length) return 'a public key appears in two [Peer] sections';
  if (filePeers.size !== rd.peers.length) return 'the set of peers';
  for (const rp of rd.peers) {
    const name = pubText(rp.publicKey);
    const fp = filePeers.get(name);
    if (!fp) return `peer ${name} is missing`;
    const diff = peerDifference(fp, rp);
    if (diff) return `peer ${name}: ${diff}`;
  }
  return undefined;
}

function peerDifference(fp: Peer, rp: Peer): string | undefined {
  if (keyText(fp.presharedKey) !== keyText(rp.presharedKey)) return 'PresharedKey';
  if ((fp.persistentKeepalive || 0) !== (rp.persistentKeepalive || 0)) return 'PersistentKeepalive';
  const ips = (p: Peer) =>
    p.allowedIPs.map((ip) => normAllowedIP(`${inetNtop(ip.address)}/${ip.cidr}`) ?? '');
  if (!sameSet(ips(fp), ips(rp))) return 'AllowedIPs';
  const fileEps = runningEndpoints(fp).list.map(formatSockAddr);
  const run = runningEndpoints(rp);
  const runEps = run.list.map(formatSockAddr);
  if (run.all) return sameList(fileEps, runEps) ? undefined : 'Endpoint';
  if (runEps.length === 0) return fileEps.length === 0 ? undefined : 'Endpoint';
  return fileEps.includes(runEps[0]!) ? undefined : 'Endpoint';
}

// ---- wg-quick's whole-file form ----

/**
 * The file save_config writes for this state: the `[Interface]` block, then showconf's text
 * after its `[Interface]` line, ending in one newline (bash's `$(...)` strips the trailing
 * newlines and `echo` adds one). One deliberate difference: a peer on a backend that holds
 * several endpoints gets all of them, one Endpoint line each.
 */
export function wgQuickText(state: SaveState): string {
  let head = '[Interface]\n';
  for (const a of state.addresses) head += `Address = ${a}\n`;
  for (const d of state.dns) head += `DNS = ${d}\n`;
  if (state.dnsSearch && state.dnsSearch.length > 0) head += `DNS = ${state.dnsSearch.join(', ')}\n`;
  if (state.mtu !== undefined) head += `MTU = ${state.mtu}\n`;
  if (state.table !== undefined) head += `Table = ${state.table}\n`;
  if (state.saveConfig) head += 'SaveConfig = true\n';
  for (const c of state.preUp) head += `PreUp = ${c}\n`;
  for (const c of state.postUp) head += `PostUp = ${c}\n`;
  for (const c of state.preDown) head += `PreDown = ${c}\n`;
  for (const c of state.postDown) head += `PostDown = ${c}\n`;
  const device: Device = {
    ...state.device,
    peers: state.device.peers.map((p) => ({
      ...p,
      endpoints: runningEndpoints(p).list.map((addr) => ({ addr })),
    })),
  };
  const conf = serializeConfig(device);
  return `${(head + conf.slice('[Interface]\n'.length)).replace(/\n+$/, '')}\n`;
}
