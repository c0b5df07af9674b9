// A userspace UDP relay with per-direction delay, jitter, loss and blackholing, for tests that
// need paths with delay: this machine kind's kernel has no netem qdisc. One relay is one path:
// datagrams that clients send to `listen` go to `target` from one upstream socket, and what the
// target sends back to that socket goes to the client that sent last (so a WireGuard peer
// behind `target` sees one stable source per relay, and roams between relays like between
// paths). Impairments can be changed while it runs (`set`, or text commands: `command`).
//
// Delays use timers, so they are accurate to a millisecond or two on an idle machine and worse
// under load; jitter reorders datagrams as a real path would.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Rng } from './rng.js';

export interface Impairment {
  /** One-way delay, ms. */
  delay: number;
  /** Extra delay, uniform in [0, jitter) ms. */
  jitter: number;
  /** Probability of dropping a datagram, 0..1. */
  loss: number;
  /** Drop everything. */
  blackhole: boolean;
}

export interface DirectionStats {
  received: number;
  forwarded: number;
  dropped: number;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface RelayOptions {
  listen: HostPort;
  target: HostPort;
  /** Where the upstream socket binds (default: any address of the target's family, any port). */
  upstream?: HostPort;
  /** Client to target. */
  fwd?: Partial<Impairment>;
  /** Target to client. */
  rev?: Partial<Impairment>;
  seed?: number;
}

export type Direction = 'fwd' | 'rev';

const NO_IMPAIRMENT: Impairment = { delay: 0, jitter: 0, loss: 0, blackhole: false };

function check(i: Impairment, where: string): Impairment {
  for (const k of ['delay', 'jitter'] as const)
    if (!Number.isFinite(i[k]) || i[k] < 0)
      throw new RangeError(`${where}: ${k} must be a number ≥ 0, not ${i[k]}`);
  if (!Number.isFinite(i.loss) || i.loss < 0 || i.loss > 1)
    throw new RangeError(`${where}: loss must be between 0 and 1, not ${i.loss}`);
  return i;
}

export class Relay {
  private down: Socket | undefined;
  private up: Socket | undefined;
  private client: RemoteInfo | undefined;
  private readonly rng: Rng;
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly impair: Record<Direction, Impairment>;
  readonly counters: Record<Direction, DirectionStats> = {
    fwd: { received: 0, forwarded: 0, dropped: 0 },
    rev: { received: 0, forwarded: 0, dropped: 0 },
  };

  constructor(private readonly opts: RelayOptions) {
    this.rng = new Rng(opts.seed ?? 1);
    this.impair = {
      fwd: check({ ...NO_IMPAIRMENT, ...opts.fwd }, 'fwd'),
      rev: check({ ...NO_IMPAIRMENT, ...opts.rev }, 'rev'),
    };
  }

  /** Binds both sockets; resolves with the ports actually bound. */
  async start(): Promise<{ listen: HostPort; upstream: HostPort }> {
    const { listen, target } = this.opts;
    this.down = createSocket(isIPv6(listen.host) ? 'udp6' : 'udp4');
    this.up = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
    const upBind = this.opts.upstream ?? { host: isIPv6(target.host) ? '::' : '0.0.0.0', port: 0 };
    await Promise.all([bind(this.down, listen), bind(this.up, upBind)]);
    this.down.on('message', (msg, from) => {
      this.client = from;
      this.pass('fwd', msg, (m) => this.up?.send(m, target.port, target.host));
    });
    this.up.on('message', (msg, from) => {
      if (from.port !== target.port || from.address !== target.host) return;
      const c = this.client;
      if (!c) return;
      this.pass('rev', msg, (m) => this.down?.send(m, c.port, c.address));
    });
    const l = this.down.address();
    const u = this.up.address();
    return { listen: { host: l.address, port: l.port }, upstream: { host: u.address, port: u.port } };
  }

  private pass(dir: Direction, msg: Buffer, send: (m: Buffer) => void): void {
    const c = this.counters[dir];
    const p = this.impair[dir];
    c.received++;
    if (p.blackhole || (p.loss > 0 && this.rng.chance(p.loss))) {
      c.dropped++;
      return;
    }
    const delay = p.delay + (p.jitter > 0 ? this.rng.float() * p.jitter : 0);
    c.forwarded++;
    if (delay <= 0) {
      send(msg);
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      send(msg);
    }, delay);
    this.timers.add(t);
  }

  /** Changes one direction's impairment (unnamed fields keep their value). */
  set(dir: Direction | 'both', change: Partial<Impairment>): void {
    for (const d of dir === 'both' ? (['fwd', 'rev'] as const) : [dir])
      this.impair[d] = check({ ...this.impair[d], ...change }, d);
  }

  stats(): { impair: Record<Direction, Impairment>; counters: Record<Direction, DirectionStats> } {
    return { impair: structuredClone(this.impair), counters: structuredClone(this.counters) };
  }

  /**
   * One text command, as the runnable relay reads them from stdin or its control socket:
   *   fwd|rev|both key=value...   keys: delay, jitter, loss, blackhole (0/1/on/off)
   *   stats
   * Returns the reply line (JSON), or throws with a message naming what is wrong.
   */
  command(line: string): string {
    const words = line.trim().split(/\s+/).filter(Boolean);
    const verb = words.shift();
    if (verb === 'stats') return JSON.stringify(this.stats());
    if (verb !== 'fwd' && verb !== 'rev' && verb !== 'both')
      throw new Error(`unknown command '${verb ?? ''}' (expected fwd, rev, both or stats)`);
    const change: Partial<Impairment> = {};
    for (const w of words) {
      const m = /^(delay|jitter|loss|blackhole)=(.+)$/.exec(w);
      if (!m) throw new Error(`'${w}' is not one of delay=MS, jitter=MS, loss=P, blackhole=0|1`);
      const [, key, value] = m as unknown as [string, keyof Impairment, string];
      if (key === 'blackhole') {
        if (!/^(0|1|on|off|true|false)$/.test(value)) throw new Error(`blackhole=${value}: expected 0 or 1`);
        change.blackhole = /^(1|on|true)$/.test(value);
      } else {
        const n = Number(value);
        if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${key}=${value}: not a number`);
        change[key] = n;
      }
    }
    this.set(verb, change);
    return JSON.stringify(this.stats().impair);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.down?.close();
    this.up?.close();
    this.down = undefined;
    this.up = undefined;
  }
}

function bind(s: Socket, at: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(at.port, at.host, () => {
      s.off('error', reject);
      resolve();
    });
  });
}

/** "host:port" or "[v6]:port". */
export function parseHostPort(text: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) throw new Error(`'${text}' is not host:port or [v6]:port`);
  return { host: m[1]!, port };
}
