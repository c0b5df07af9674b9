// Tells the engine when the host's network changed (an address, a route, a link), so that
// endpoint selection races every peer's paths again (core networkChanged, RFC 8305 section 4's
// "flush history on network change").
//
// It listens to rtnetlink notifications (sys/rtnl.ts) in the namespace the engine started in,
// where its UDP socket lives, and keeps only the notifications rtnl-filter.ts counts: the
// engine's own interface's addresses and routes are not a change of the paths to the peers.
// One `ip addr add` makes a burst of messages (the address, its prefix route, the local and
// broadcast routes, and IPv6 neighbours of them); a burst is one change, reported DEBOUNCE_MS
// after its last message (at most MAX_DELAY_MS after its first, so a steady stream still
// reports).
//
// Where no NETLINK_ROUTE socket can be had (a sandbox that forbids it), it falls back to
// reading the interfaces' addresses every second (os.networkInterfaces) and says so once in
// the verbose log. That sees added and removed addresses only, up to a second late.

import { networkInterfaces } from 'node:os';
import { ifIndexToName } from '../sys/ifname.js';
import { SysError } from '../sys/libc.js';
import { ENOBUFS, RouteEvents, RTM_GETADDR, RTM_GETLINK, rtnlDump } from '../sys/rtnl.js';
import type { Logger } from './log.js';
import { NetChangeFilter } from './rtnl-filter.js';

/** Quiet time that ends a burst of notifications. */
export const DEBOUNCE_MS = 150;
/** A change is reported at most this long after its first notification. */
export const MAX_DELAY_MS = 1000;
/** The fallback's polling interval. */
export const POLL_INTERVAL_MS = 1000;

export interface NetWatchOptions {
  /** The engine's interface name (the fallback skips its addresses). */
  ifname: string;
  /** Its index in this namespace, undefined while it is in another one. */
  own: () => number | undefined;
  log: Logger;
  /** Called once per change, with what changed (a short text for the log). */
  onChange: (what: string) => void;
  /** false: start on the polling fallback (tests of it); rtnetlink by default. */
  rtnetlink?: boolean;
  /** Names an interface index for the log (if_indextoname in the calling thread's namespace). */
  nameOf?: (index: number) => string | undefined;
}

export class NetWatch {
  private events: RouteEvents | undefined;
  private filter: NetChangeFilter | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private localAddrs = '';
  private timer: NodeJS.Timeout | undefined;
  private firstAt = 0;
  private pending: string[] = [];
  private closed = false;

  constructor(private readonly opts: NetWatchOptions) {
    try {
      if (opts.rtnetlink === false) throw new Error('not asked for');
      this.events = RouteEvents.open();
      const nameOf = opts.nameOf ?? ifIndexToName;
      this.filter = new NetChangeFilter(opts.own, (i) => nameOf(i) ?? `#${i}`);
      this.seed();
      this.arm();
    } catch (e) {
      this.events?.close();
      this.events = undefined;
      this.fallBack((e as Error).message);
    }
  }

  /** 'rtnetlink' or 'polling': how changes are noticed. */
  get mode(): 'rtnetlink' | 'polling' {
    return this.events ? 'rtnetlink' : 'polling';
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events?.close();
    if (this.timer) clearTimeout(this.timer);
    if (this.pollTimer) clearInterval(this.pollTimer);
  }

  /** What exists now: links and addresses (routes are not tracked, see rtnl-filter.ts). */
  private seed(): void {
    this.filter?.reset();
    this.filter?.seed([...rtnlDump(RTM_GETLINK), ...rtnlDump(RTM_GETADDR)]);
  }

  private arm(): void {
    this.events?.wait((err) => {
      if (this.closed) return;
      try {
        if (err) throw err;
        this.drain();
      } catch (e) {
        // The socket broke (it should not): carry on by polling rather than take the daemon down.
        this.opts.log.error(`Network changes: rtnetlink failed: ${(e as Error).message}`);
        this.events?.close();
        this.events = undefined;
        this.fallBack((e as Error).message);
        return;
      }
      this.arm();
    });
  }

  private drain(): void {
    if (!this.events || !this.filter) return;
    try {
      const changes = this.filter.changes(this.events.read());
      if (changes.length > 0) this.changed(changes);
    } catch (e) {
      if (!(e instanceof SysError && e.errno === ENOBUFS)) throw e;
      // The kernel dropped notifications: what changed is unknown, so count it as a change.
      try {
        this.seed();
      } catch {
        // Seeding again failed: the next notifications still count against what was known.
      }
      this.changed(['notifications lost (socket buffer full)']);
    }
  }

  private changed(what: string[]): void {
    const now = Date.now();
    if (this.pending.length === 0) this.firstAt = now;
    this.pending.push(...what);
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, this.firstAt + MAX_DELAY_MS - now));
    this.timer = setTimeout(() => this.report(), wait);
  }

  private report(): void {
    this.timer = undefined;
    const what = this.pending;
    this.pending = [];
    if (this.closed || what.length === 0) return;
    const more = what.length > 3 ? ` and ${what.length - 3} more` : '';
    this.opts.onChange(what.slice(0, 3).join(', ') + more);
  }

  private fallBack(why: string): void {
    if (this.closed) return;
    this.opts.log.verbose(
      `Network changes: no rtnetlink notifications (${why}); polling the local addresses every second`,
    );
    this.localAddrs = this.localAddresses();
    this.pollTimer = setInterval(() => {
      const now = this.localAddresses();
      if (now === this.localAddrs) return;
      this.localAddrs = now;
      this.opts.onChange('local addresses changed');
    }, POLL_INTERVAL_MS);
  }

  private localAddresses(): string {
    const out: string[] = [];
    for (const [name, list] of Object.entries(networkInterfaces())) {
      if (name === this.opts.ifname || !list) continue;
      for (const a of list) if (!a.internal) out.push(`${name}/${a.address}`);
    }
    return out.sort().join(',');
  }
}
