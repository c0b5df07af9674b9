// Name resolution for endpoint candidates, the Happy Eyeballs way (RFC 8305 section 3): AAAA
// and A are queried separately and at once; if A answers first, IPv4 waits up to the Resolution
// Delay (50 ms) for AAAA; whatever arrives later is handed over as an update, so that selection
// can merge it into a running race (RFC 8305 section 6). Addresses are kept in the resolver's
// order per family, bounded, and interleaved (RFC 8305 section 4). Answers carry TTLs, which set
// when the name is resolved again: max(TTL, 30 s), at most 5 min apart, and at once after a
// failed round or a network change (`NameWatcher`).
//
// wgm-engine keeps the endpoint names it was given resolved with NameWatcher (names.ts).

import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { inetPton4, inetPton6 } from '../model/inet.js';
import type { PathAddr } from './core/addr.js';
import { MAX_ADDRS_PER_NAME, MAX_ADDRS_PER_NAME_FAMILY } from './core/select-constants.js';
import { interleaveFamilies } from './core/select-path.js';

/** RFC 8305 section 3: how long a positive A answer waits for AAAA. */
export const RESOLUTION_DELAY_MS = 50;
/** Re-resolution: never sooner than this after an answer... */
export const RERESOLVE_MIN_MS = 30_000;
/** ...and never later. */
export const RERESOLVE_MAX_MS = 300_000;
/** After a failed resolution: the first retry, doubling up to RERESOLVE_MIN_MS. */
export const RETRY_FIRST_MS = 1_000;

export interface Resolution {
  /** Interleaved, at most 8 (4 per family). */
  addrs: PathAddr[];
  /** The smallest TTL among the answers (ms), when there were any. */
  ttlMs: number | undefined;
  /** False while one family's answer is still outstanding (an update follows). */
  complete: boolean;
  /** Per family: the error text of a failed query. */
  errors: Partial<Record<4 | 6, string>>;
}

/** The part of node:dns's Resolver this module uses (tests point it at their own server). */
export interface Lookup {
  resolve4(host: string, o: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(host: string, o: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
}

export function systemLookup(servers?: string[]): Lookup {
  const r = new Resolver({ timeout: 2_000, tries: 2 });
  if (servers) r.setServers(servers);
  return r;
}

/** When to resolve a name again after an answer with this TTL. */
export function reresolveDelayMs(ttlMs: number | undefined): number {
  return Math.min(RERESOLVE_MAX_MS, Math.max(RERESOLVE_MIN_MS, ttlMs ?? 0));
}

/** A numeric address as a candidate, or undefined when `text` is not one. */
export function literal(text: string, port: number): PathAddr | undefined {
  const fam = isIP(text);
  const address = fam === 4 ? inetPton4(text) : fam === 6 ? inetPton6(text) : undefined;
  // A scoped address (fe80::1%eth0) names an interface, which only the engine can look up.
  return address && { family: fam === 4 ? 4 : 6, address, port, scopeId: 0 };
}

function combine(
  port: number,
  v6: { address: string; ttl: number }[] | undefined,
  v4: { address: string; ttl: number }[] | undefined,
  complete: boolean,
  errors: Resolution['errors'],
): Resolution {
  const six = (v6 ?? []).slice(0, MAX_ADDRS_PER_NAME_FAMILY).flatMap((a) => {
    const p = literal(a.address, port);
    return p ? [{ addr: p }] : [];
  });
  const four = (v4 ?? [])
    .slice(0, MAX_ADDRS_PER_NAME_FAMILY)
    .map((a) => ({ addr: literal(a.address, port)! }));
  // RFC 6724 prefers IPv6 by default; the interleaving starts with the family listed first.
  const addrs = interleaveFamilies([...six, ...four])
    .slice(0, MAX_ADDRS_PER_NAME)
    .map((x) => x.addr);
  const ttls = [...(v6 ?? []), ...(v4 ?? [])].map((a) => a.ttl * 1000);
  return { addrs, ttlMs: ttls.length ? Math.min(...ttls) : undefined, complete, errors };
}

/**
 * Resolves `host` for candidates on `port`. Resolves as soon as racing may start (RFC 8305
 * section 3); if one family answers later, `onUpdate` gets the merged result. Rejects only when
 * both families failed or were empty, with both errors in the message.
 */
export function resolveCandidates(
  host: string,
  port: number,
  lookup: Lookup,
  onUpdate: (r: Resolution) => void = () => {},
): Promise<Resolution> {
  const lit = literal(host.replace(/^\[(.*)\]$/, '$1'), port);
  if (lit) return Promise.resolve({ addrs: [lit], ttlMs: undefined, complete: true, errors: {} });
  return new Promise((resolve, reject) => {
    let v6: { address: string; ttl: number }[] | undefined;
    let v4: { address: string; ttl: number }[] | undefined;
    const errors: Resolution['errors'] = {};
    let done6 = false;
    let done4 = false;
    let started = false;
    let delay: NodeJS.Timeout | undefined;
    const start = () => {
      if (started) return;
      started = true;
      if (delay) clearTimeout(delay);
      resolve(combine(port, v6, v4, done4 && done6, errors));
    };
    const settle = () => {
      if (done4 && done6 && !v4?.length && !v6?.length) {
        if (delay) clearTimeout(delay);
        if (!started) {
          started = true;
          reject(new Error(`${host}: no address (AAAA: ${errors[6] ?? 'none'}; A: ${errors[4] ?? 'none'})`));
        }
        return;
      }
      if (started) {
        onUpdate(combine(port, v6, v4, done4 && done6, errors));
        return;
      }
      if (v6?.length || (done4 && done6)) start();
      else if (v4?.length && !delay) delay = setTimeout(start, RESOLUTION_DELAY_MS);
    };
    // AAAA first, then A right after (RFC 8305 section 3).
    lookup.resolve6(host, { ttl: true }).then(
      (r) => {
        v6 = r;
        done6 = true;
        settle();
      },
      (e: Error) => {
        errors[6] = (e as NodeJS.ErrnoException).code ?? e.message;
        done6 = true;
        settle();
      },
    );
    lookup.resolve4(host, { ttl: true }).then(
      (r) => {
        v4 = r;
        done4 = true;
        settle();
      },
      (e: Error) => {
        errors[4] = (e as NodeJS.ErrnoException).code ?? e.message;
        done4 = true;
        settle();
      },
    );
  });
}

/**
 * Keeps one name resolved: resolves at once, then again after `reresolveDelayMs` of the answer's
 * TTL, and at once on `failed()` (a round failed) or `networkChanged()`. Each result goes to
 * `onResult`, partial answers included; errors go to `onError` and retry after 1 s, then
 * twice as long each time up to 30 s (a name that does not resolve at boot usually starts to
 * within seconds, once the network is up).
 */
export class NameWatcher {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running = false;
  private retryMs = RETRY_FIRST_MS;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly lookup: Lookup,
    private readonly onResult: (r: Resolution) => void,
    private readonly onError: (e: Error) => void = () => {},
  ) {}

  start(): void {
    this.now();
  }

  failed(): void {
    this.now();
  }

  networkChanged(): void {
    this.now();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private now(): void {
    if (this.stopped || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.running = true;
    const take = (r: Resolution) => {
      if (!this.stopped) this.onResult(r);
      this.retryMs = RETRY_FIRST_MS;
      if (r.complete) this.after(reresolveDelayMs(r.ttlMs));
    };
    resolveCandidates(this.host, this.port, this.lookup, take).then(take, (e: Error) => {
      if (!this.stopped) this.onError(e);
      this.after(this.retryMs);
      this.retryMs = Math.min(RERESOLVE_MIN_MS, this.retryMs * 2);
    });
  }

  private after(ms: number): void {
    this.running = false;
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.now(), ms);
    this.timer.unref();
  }
}
