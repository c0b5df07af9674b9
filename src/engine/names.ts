// The endpoint lines of each peer as wgm-engine holds them, and the names among them kept
// resolved. A UAPI `set` gives a peer's endpoints as lines in order (line i = the i-th `Endpoint`
// of the config, i.e. its preference): an address (`endpoint=`, `wgm_endpoint=`) or a name
// (`wgm_endpoint_name=host:port`, docs/uapi-extensions.md). A name's line holds what the name
// resolves to, empty until it does: the peer comes up with its other lines, and the name joins
// as soon as it resolves (resolve.ts: both families the RFC 8305 way, again on TTL, retried
// with backoff while it fails). Resolution runs in this process, so in the network and mount
// namespaces the engine was started in (its /etc/resolv.conf and /etc/hosts).
//
// A request that gives a peer exactly the lines it has (same addresses, same names, same order)
// and holds a name leaves the peer's candidates alone: `wgm reload` sends the list again, and
// starting the names over would throw away a working path. Lists of addresses only keep wg's
// meaning (setting an endpoint sets it) and go to the core every time. A peer's lines reach the
// core through Core.configurePeer, a name's later answers through Core.updateEndpointLine.

import { lookup as dnsLookup } from 'node:dns';
import type { Device, Peer } from '../model/index.js';
import { type PathAddr, pathKey, samePath } from './core/addr.js';
import type { Logger } from './log.js';
import { type Lookup, NameWatcher, systemLookup } from './resolve.js';

export type EndpointLine =
  | { kind: 'addr'; addr: PathAddr }
  | { kind: 'name'; host: string; port: number; addrs: PathAddr[]; watcher?: NameWatcher };

/** Called when a name's line got new addresses: the peer (hex key), its line and addresses. */
export type LineUpdate = (peerHex: string, rank: number, addrs: PathAddr[]) => void;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The addresses of a peer's lines in order, each once: the candidate list for the core. */
export function flattenLines(lines: readonly EndpointLine[]): PathAddr[] {
  const seen = new Set<string>();
  const out: PathAddr[] = [];
  for (const l of lines) {
    for (const a of l.kind === 'addr' ? [l.addr] : l.addrs) {
      const k = pathKey(a);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(a);
    }
  }
  return out;
}

function sameLine(a: EndpointLine, b: EndpointLine): boolean {
  if (a.kind === 'addr' || b.kind === 'addr')
    return a.kind === 'addr' && b.kind === 'addr' && samePath(a.addr, b.addr);
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}

function linesOf(peer: Peer<PathAddr>): EndpointLine[] {
  return peer.endpoints.flatMap((e): EndpointLine[] => {
    if (e.addr) return [{ kind: 'addr', addr: e.addr }];
    if (e.name) return [{ kind: 'name', host: e.name.host, port: e.name.port, addrs: [] }];
    return [];
  });
}

/**
 * The system's resolver for the engine: DNS through c-ares (answers carry TTLs), with a fresh
 * channel each time so that a resolv.conf written after start (DHCP at boot) is read; a family
 * DNS does not answer is asked of getaddrinfo too, so that /etc/hosts and the other NSS sources
 * wg would consult (it resolves with getaddrinfo) count. Those answers have no TTL.
 */
export function engineLookup(): Lookup {
  const viaNss = (host: string, family: 4 | 6) =>
    new Promise<{ address: string; ttl: number }[]>((resolve, reject) => {
      dnsLookup(host, { family, all: true }, (err, addrs) => {
        if (err) reject(err);
        else resolve(addrs.filter((a) => a.family === family).map((a) => ({ address: a.address, ttl: 0 })));
      });
    });
  const either = async (host: string, family: 4 | 6) => {
    const dns = systemLookup();
    try {
      const r = await (family === 4 ? dns.resolve4(host, { ttl: true }) : dns.resolve6(host, { ttl: true }));
      if (r.length > 0) return r;
    } catch (e) {
      const nss = await viaNss(host, family).catch(() => []);
      if (nss.length > 0) return nss;
      throw e;
    }
    return viaNss(host, family);
  };
  return { resolve4: (host) => either(host, 4), resolve6: (host) => either(host, 6) };
}

export class EndpointNames {
  private readonly peers = new Map<string, EndpointLine[]>();
  /** Per peer and line: the last resolution error logged (each new one is logged once). */
  private readonly lastError = new Map<string, string>();

  constructor(
    private readonly lookup: Lookup,
    private readonly onLine: LineUpdate,
    private readonly log: Logger,
  ) {}

  /** The lines held for a peer: only a peer with a name among its lines has some (tests). */
  linesOf(peerHex: string): readonly EndpointLine[] | undefined {
    return this.peers.get(peerHex);
  }

  /**
   * Takes the endpoint lists of a set request before the core applies it: records each peer's
   * lines, starts watching new names (and stops watching dropped ones), and rewrites the change
   * for the core. A list holding a name that equals the peer's lines is dropped from the change;
   * any other list holding a name becomes the addresses known now (a name's line contributes
   * what it resolved to, nothing yet for a new name), or `clearEndpoints` when there are none,
   * and its lines are returned (peer hex key → addresses per line) for Core.configurePeer.
   */
  take(change: Device<PathAddr>): Map<string, PathAddr[][]> {
    const out = new Map<string, PathAddr[][]>();
    const before = new Map(this.peers);
    if (change.replacePeers) this.peers.clear();
    for (const p of change.peers) {
      if (!p.publicKey) continue;
      const key = hex(p.publicKey);
      if (p.remove) {
        this.drop(key);
        continue;
      }
      if (p.endpoints.length === 0) continue;
      const next = linesOf(p);
      if (!next.some((l) => l.kind === 'name')) {
        // Addresses alone go to the core as they are, every time (wg's meaning), and there is
        // nothing to resolve: nothing is held (it was ~0.5 KiB per peer, a copy of each address
        // among it). Names the peer had stop.
        this.drop(key);
        continue;
      }
      const held = this.peers.get(key);
      if (held && held.length === next.length && held.every((l, i) => sameLine(l, next[i]!))) {
        p.endpoints = [];
        p.clearEndpoints = undefined;
        continue;
      }
      // A name the peer already had keeps its watcher and what it resolved to.
      const old = held ?? before.get(key) ?? [];
      for (let i = 0; i < next.length; i++) {
        const l = next[i]!;
        if (l.kind !== 'name') continue;
        const j = old.findIndex((o) => o.kind === 'name' && o.watcher && sameLine(o, l));
        const o = j >= 0 ? old.splice(j, 1)[0] : undefined;
        if (o?.kind === 'name') {
          l.addrs = o.addrs;
          l.watcher = o.watcher;
        }
      }
      this.stopAll(old);
      this.peers.set(key, next);
      next.forEach((l, rank) => {
        if (l.kind === 'name' && !l.watcher) this.watch(key, l, rank);
      });
      const addrs = flattenLines(next);
      p.endpoints = addrs.map((addr) => ({ addr }));
      p.clearEndpoints = addrs.length === 0 ? true : undefined;
      out.set(
        key,
        next.map((l) => (l.kind === 'addr' ? [l.addr] : l.addrs)),
      );
    }
    if (change.replacePeers) for (const [k, lines] of before) if (!this.peers.has(k)) this.stopAll(lines);
    return out;
  }

  /** Forgets the peers the core does not hold (an update_only peer it did not have, our own key). */
  prune(held: (peerHex: string) => boolean): void {
    for (const k of [...this.peers.keys()]) if (!held(k)) this.drop(k);
  }

  /** Resolves every held name again now (a network change). */
  networkChanged(): void {
    for (const lines of this.peers.values())
      for (const l of lines) if (l.kind === 'name') l.watcher?.networkChanged();
  }

  close(): void {
    for (const k of [...this.peers.keys()]) this.drop(k);
  }

  private drop(key: string): void {
    const lines = this.peers.get(key);
    if (!lines) return;
    this.peers.delete(key);
    for (const k of [...this.lastError.keys()]) if (k.startsWith(`${key}/`)) this.lastError.delete(k);
    this.stopAll(lines);
  }

  private stopAll(lines: readonly EndpointLine[]): void {
    for (const l of lines) if (l.kind === 'name') l.watcher?.stop();
  }

  private watch(key: string, line: EndpointLine & { kind: 'name' }, rank: number): void {
    const errKey = `${key}/${rank}`;
    const w = new NameWatcher(
      line.host,
      line.port,
      this.lookup,
      (r) => {
        if (this.peers.get(key)?.[rank] !== line) return;
        if (this.lastError.delete(errKey))
          this.log.verbose(`Endpoint ${line.host}:${line.port} resolves again`);
        const same =
          r.addrs.length === line.addrs.length &&
          r.addrs.every((a, i) => pathKey(a) === pathKey(line.addrs[i]!));
        if (same) return;
        line.addrs = r.addrs;
        this.onLine(key, rank, r.addrs);
      },
      (e) => {
        if (this.lastError.get(errKey) === e.message) return;
        this.lastError.set(errKey, e.message);
        this.log.verbose(`Endpoint ${line.host}:${line.port} does not resolve (yet): ${e.message}`);
      },
    );
    line.watcher = w;
    w.start();
  }
}
