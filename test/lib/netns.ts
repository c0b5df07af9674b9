// Network-namespace labs for interop tests and benchmarks: private namespaces joined by veth
// pairs, daemons (wgm-engine, wireguard-go) running inside them, and a cleanup that undoes it
// all. Every name carries the creating process's pid, so parallel test files never collide;
// the UAPI socket directory is shared by all namespaces, so interface names are unique too.
//
//   const lab = new Lab('tr');                  // t.after(() => lab.cleanup())
//   const [a, b] = [lab.netns('a'), lab.netns('b')];
//   lab.veth(a, b);                             // 192.168.241.1/24 + fd00:241::1/64 on a, .2 on b
//   const d = await lab.daemon('wgm-engine', a); // foreground, killed by cleanup
//   lab.wg(a, ['show', d.ifname]);

import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunOptions, type RunResult, run, WGM_ENGINE } from './run.js';

export type Impl = 'wgm-engine' | 'wireguard-go';

export const SOCKET_DIR = '/var/run/wireguard';

let serial = 0;

/** A name unique to this process: `<tag><pid><n>`, at most 15 characters (an interface name). */
export function uniqueName(tag: string): string {
  return `${tag}${process.pid % 100000}${(serial++).toString(36)}`.slice(0, 15);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `pred` until it returns a truthy value or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor<T>(
  what: string,
  pred: () => T | Promise<T>,
  timeoutMs = 10_000,
  stepMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() >= until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export interface Daemon {
  impl: Impl;
  ns: string;
  ifname: string;
  proc: ChildProcess;
  /** What the daemon wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
}

export class Lab {
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly procs: ChildProcess[] = [];
  private readonly ifnames: string[] = [];

  constructor(readonly tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `wgm-${tag}-`));
  }

  /** Creates a namespace with loopback up. */
  netns(name: string): string {
    const ns = uniqueName(`${this.tag}${name}`);
    this.must(run('ip', ['netns', 'add', ns], { timeoutMs: 10_000 }), `ip netns add ${ns}`);
    this.namespaces.push(ns);
    this.ip(ns, 'link', 'set', 'lo', 'up');
    return ns;
  }

  /** A fresh interface name (remembered, so its socket is removed at cleanup). */
  ifname(tag = 'w'): string {
    const n = uniqueName(`${this.tag}${tag}`);
    this.ifnames.push(n);
    return n;
  }

  /**
   * Joins two namespaces with a veth pair: 192.168.N.1/24 and fd00:N::1/64 in `a`, .2 / ::2
   * in `b` (IPv6 without duplicate address detection). Returns the interface names.
   */
  veth(
    a: string,
    b: string,
    n = 241,
  ): { ifA: string; ifB: string; v4: [string, string]; v6: [string, string] } {
    const ifA = uniqueName('va');
    const ifB = uniqueName('vb');
    this.ip(undefined, 'link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b);
    const v4: [string, string] = [`192.168.${n}.1`, `192.168.${n}.2`];
    const v6: [string, string] = [`fd00:${n}::1`, `fd00:${n}::2`];
    this.ip(a, 'addr', 'add', `${v4[0]}/24`, 'dev', ifA);
    this.ip(b, 'addr', 'add', `${v4[1]}/24`, 'dev', ifB);
    this.ip(a, 'addr', 'add', `${v6[0]}/64`, 'dev', ifA, 'nodad');
    this.ip(b, 'addr', 'add', `${v6[1]}/64`, 'dev', ifB, 'nodad');
    this.ip(a, 'link', 'set', ifA, 'up');
    this.ip(b, 'link', 'set', ifB, 'up');
    return { ifA, ifB, v4, v6 };
  }

  /** Runs `ip` (in `ns` when given); throws with its stderr on failure. */
  ip(ns: string | undefined, ...args: string[]): string {
    const r = run('ip', ns ? ['-n', ns, ...args] : args, { timeoutMs: 10_000 });
    return this.must(r, `ip ${args.join(' ')}`).stdout;
  }

  /** Runs a command inside `ns` and returns its result (never throws for a non-zero status). */
  exec(ns: string, cmd: string, args: string[], opts: RunOptions = {}): RunResult {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], { timeoutMs: 30_000, ...opts });
  }

  /** Stock `wg` inside `ns`; throws on a non-zero status. */
  wg(ns: string, args: string[], opts: RunOptions = {}): string {
    return this.must(this.exec(ns, 'wg', args, opts), `wg ${args.join(' ')}`).stdout;
  }

  /** Starts a long-running command inside `ns`; cleanup kills it. */
  spawn(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    return p;
  }

  /**
   * Starts a WireGuard daemon in the foreground inside `ns` and waits until its UAPI socket
   * answers `wg show`.
   */
  async daemon(
    impl: Impl,
    ns: string,
    opts: { ifname?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<Daemon> {
    const ifname = opts.ifname ?? this.ifname(impl === 'wgm-engine' ? 'm' : 'g');
    if (!this.ifnames.includes(ifname)) this.ifnames.push(ifname);
    const env = { ...process.env, ...opts.env };
    const proc =
      impl === 'wgm-engine'
        ? this.spawn(ns, process.execPath, [WGM_ENGINE, '-f', ifname], env)
        : this.spawn(ns, 'wireguard-go', ['-f', ifname], env);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // 'close', not 'exit': node may emit 'exit' before the last output is read, and tests
    // look for the daemon's last log lines once it has exited.
    const exited = new Promise<number | string>((resolve) =>
      proc.once('close', (code, sig) => resolve(code ?? sig ?? 'unknown')),
    );
    let gone = false;
    void exited.then(() => {
      gone = true;
    });
    // Probed with a plain connect, not `wg show`: wg deletes a socket that refuses it, and a
    // daemon between bind(2) and listen(2) refuses (wireguard-go then dies of it).
    const path = join(SOCKET_DIR, `${ifname}.sock`);
    // Node starts in a fraction of a second on a quiet machine; several daemons starting at once
    // on a loaded 2-core one have taken over 10 s.
    await waitFor(
      `${impl} ${ifname} to answer on its socket`,
      () => {
        if (gone) throw new Error(`${impl} ${ifname} exited early:\n${out}`);
        return existsSync(path) && connects(path);
      },
      30_000,
    );
    return { impl, ns, ifname, proc, output: () => out, exited };
  }

  /**
   * Moves interface `dev` from namespace `from` to `to` (`ip link set DEV netns TO`). The
   * kernel brings it down on the way; its addresses stay behind, its MTU goes with it.
   */
  moveLink(from: string, dev: string, to: string): void {
    this.ip(from, 'link', 'set', dev, 'netns', to);
  }

  /** A file in the lab's temporary directory. */
  file(name: string, content: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  }

  private must(r: RunResult, what: string): RunResult {
    if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
    return r;
  }

  /** Kills what was started (by pid), deletes the namespaces and the lab's files and sockets. */
  async cleanup(): Promise<void> {
    const alive = this.procs.filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of alive) p.kill('SIGTERM');
    await Promise.all(
      alive.map(
        (p) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              p.kill('SIGKILL');
              resolve();
            }, 3000);
            p.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    // Daemonised engines and wireguard-gos are not our children: find them by their unique names.
    for (const pid of pidsOf(this.ifnames)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
    }
    for (const ns of this.namespaces.splice(0)) run('ip', ['netns', 'delete', ns], { timeoutMs: 10_000 });
    for (const n of this.ifnames) {
      const sock = join(SOCKET_DIR, `${n}.sock`);
      if (existsSync(sock)) {
        try {
          unlinkSync(sock);
        } catch {}
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a unix stream socket accepts a connection. */
function connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ path });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Pids of wgm-engine or wireguard-go processes whose command line names one of `ifnames`. */
export function pidsOf(ifnames: string[]): number[] {
  const out: number[] = [];
  if (ifnames.length === 0) return out;
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
    } catch {
      continue;
    }
    const daemon = argv.some((a) => /(^|\/)(wgm-engine(\.js)?|wireguard-go)$/.test(a));
    if (daemon && argv.some((a) => ifnames.includes(a))) out.push(Number(d));
  }
  return out;
}

/** A private key (base64) from stock `wg genkey`, and its public key. */
export function keypair(): { priv: string; pub: string } {
  const priv = run('wg', ['genkey']).stdout.trim();
  const pub = run('wg', ['pubkey'], { input: `${priv}\n` }).stdout.trim();
  return { priv, pub };
}

/**
 * `[Peer]` sections for `count` filler peers (up to 65,536): public keys made by varying two
 * bytes of one real key (any 32 bytes are a valid peer key, and this is far cheaper than
 * `wg genkey` each), allowed IPs 10.100.0.0 upwards, endpoints in 192.0.2.0/24 (TEST-NET-1).
 */
export function fillerPeers(count: number): string[] {
  const base = Buffer.from(keypair().pub, 'base64');
  return Array.from({ length: count }, (_, i) => {
    const pub = Buffer.from(base);
    pub[0] = i & 255;
    pub[1] = i >> 8;
    return [
      '[Peer]',
      `PublicKey = ${pub.toString('base64')}`,
      `AllowedIPs = 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`,
      `Endpoint = 192.0.2.${1 + (i % 250)}:${20000 + i}`,
      '',
    ].join('\n');
  });
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---- Two daemons joined by a tunnel ----

export interface Side {
  d: Daemon;
  ns: string;
  ifname: string;
  key: { priv: string; pub: string };
  port: number;
  /** Addresses on the veth (outer) and on the WireGuard interface (inner). */
  outer: { v4: string; v6: string };
  inner: { v4: string; v6: string };
}

export interface Tunnel {
  a: Side;
  b: Side;
  vethA: string;
  vethB: string;
  /** With `routed`: the namespace between A and B, which forwards between its two veths. */
  router?: string;
  /** `[host]:port` / `host:port` of a side's outer address of this family. */
  endpoint(side: Side, family: 4 | 6): string;
}

export interface TunnelOptions {
  /** Family of the outer (UDP) addresses the endpoints use. */
  outer?: 4 | 6;
  ports?: [number, number];
  /** Subnet number for the veth (192.168.N.0/24; with `routed`, also N+1 for R–B). */
  subnet?: number;
  env?: NodeJS.ProcessEnv;
  /** MTU of the WireGuard interfaces (default 1420, wg-quick's for a 1500-byte link). */
  mtu?: number;
  /** MTU of the veth links (default the kernel's, 1500). */
  linkMtu?: number;
  /**
   * A — R — B: a third namespace R between A and B, joined to each by its own veth pair
   * (192.168.N.0/24 on A's side, 192.168.(N+1).0/24 on B's), forwarding IPv4 and IPv6, and a
   * default route through R on both ends. A and B share no link.
   */
  routed?: boolean;
}

/** The endpoint text of side `s` in outer family `family`. */
function endpointOf(s: Side, family: 4 | 6): string {
  return family === 4 ? `${s.outer.v4}:${s.port}` : `[${s.outer.v6}]:${s.port}`;
}

/**
 * Makes A and B each other's peer with stock `wg` (run in `wgNs`, default each side's own
 * namespace), endpoints in outer family `outer`, then gives both interfaces their inner
 * addresses and MTU and brings them up. Returns the endpoint formatter.
 */
function configurePair(
  lab: Lab,
  a: Side,
  b: Side,
  outer: 4 | 6,
  mtu: number | undefined,
  wgNs?: string,
): typeof endpointOf {
  for (const [me, them] of [
    [a, b],
    [b, a],
  ] as const) {
    const keyFile = lab.file(`${me.ifname}.key`, `${me.key.priv}\n`);
    lab.wg(wgNs ?? me.ns, [
      'set',
      me.ifname,
      'private-key',
      keyFile,
      'listen-port',
      String(me.port),
      'peer',
      them.key.pub,
      'allowed-ips',
      `${them.inner.v4}/32,${them.inner.v6}/128`,
      'endpoint',
      endpointOf(them, outer),
    ]);
    lab.ip(me.ns, 'addr', 'add', `${me.inner.v4}/24`, 'dev', me.ifname);
    lab.ip(me.ns, 'addr', 'add', `${me.inner.v6}/64`, 'dev', me.ifname, 'nodad');
    lab.ip(me.ns, 'link', 'set', me.ifname, 'mtu', String(mtu ?? 1420), 'up');
  }
  return endpointOf;
}

/**
 * Two namespaces, a veth between them, a daemon in each, each the other's peer (endpoints on
 * both sides, so either may initiate), inner addresses 10.77.0.1-2/24 and fd77::1-2/64.
 */
export async function tunnel(lab: Lab, implA: Impl, implB: Impl, opts: TunnelOptions = {}): Promise<Tunnel> {
  const outer = opts.outer ?? 4;
  const [portA, portB] = opts.ports ?? [51820, 51821];
  const nsA = lab.netns('a');
  const nsB = lab.netns('b');
  const net = opts.routed ? routedLinks(lab, nsA, nsB, opts.subnet ?? 241) : undefined;
  const v = net?.v ?? lab.veth(nsA, nsB, opts.subnet ?? 241);
  if (opts.linkMtu !== undefined) {
    for (const [ns, dev] of net?.links ?? [
      [nsA, v.ifA],
      [nsB, v.ifB],
    ])
      lab.ip(ns, 'link', 'set', dev, 'mtu', String(opts.linkMtu));
  }
  const [dA, dB] = await Promise.all([
    lab.daemon(implA, nsA, { env: opts.env }),
    lab.daemon(implB, nsB, { env: opts.env }),
  ]);
  const side = (d: Daemon, i: 0 | 1, port: number): Side => ({
    d,
    ns: d.ns,
    ifname: d.ifname,
    key: keypair(),
    port,
    outer: { v4: v.v4[i], v6: v.v6[i] },
    inner: { v4: `10.77.0.${i + 1}`, v6: `fd77::${i + 1}` },
  });
  const a = side(dA, 0, portA);
  const b = side(dB, 1, portB);
  const endpoint = configurePair(lab, a, b, outer, opts.mtu);
  return { a, b, vethA: v.ifA, vethB: v.ifB, router: net?.router, endpoint };
}

/**
 * A — R — B (see TunnelOptions.routed). Returns A's and B's veth ends and outer addresses in
 * the shape `Lab.veth` does, the router's namespace, and every veth end (for MTU changes).
 */
function routedLinks(
  lab: Lab,
  nsA: string,
  nsB: string,
  n: number,
): {
  v: { ifA: string; ifB: string; v4: [string, string]; v6: [string, string] };
  router: string;
  links: [string, string][];
} {
  const router = lab.netns('r');
  const ar = lab.veth(nsA, router, n); // A .1, R .2
  const rb = lab.veth(router, nsB, n + 1); // R .1, B .2
  lab.exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  lab.exec(router, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  lab.ip(nsA, 'route', 'add', 'default', 'via', ar.v4[1]);
  lab.ip(nsA, '-6', 'route', 'add', 'default', 'via', ar.v6[1]);
  lab.ip(nsB, 'route', 'add', 'default', 'via', rb.v4[0]);
  lab.ip(nsB, '-6', 'route', 'add', 'default', 'via', rb.v6[0]);
  return {
    v: { ifA: ar.ifA, ifB: rb.ifB, v4: [ar.v4[0], rb.v4[1]], v6: [ar.v6[0], rb.v6[1]] },
    router,
    links: [
      [nsA, ar.ifA],
      [router, ar.ifB],
      [router, rb.ifA],
      [nsB, rb.ifB],
    ],
  };
}

/**
 * A counter of a namespace's IP stack: `snmp(lab, ns, 'Ip', 'ForwDatagrams')` from
 * /proc/net/snmp, or `snmp(lab, ns, 'Ip6', 'Ip6ReasmReqds')` from /proc/net/snmp6.
 */
export function snmp(lab: Lab, ns: string, table: string, field: string): number {
  if (table === 'Ip6') {
    const m = new RegExp(`^${field}\\s+(\\d+)$`, 'm').exec(lab.exec(ns, 'cat', ['/proc/net/snmp6']).stdout);
    if (!m) throw new Error(`no ${field} in ${ns}'s /proc/net/snmp6`);
    return Number(m[1]);
  }
  const rows = lab
    .exec(ns, 'cat', ['/proc/net/snmp'])
    .stdout.split('\n')
    .filter((l) => l.startsWith(`${table}: `))
    .map((l) => l.split(/\s+/));
  const i = rows[0]?.indexOf(field) ?? -1;
  if (rows.length < 2 || i < 1) throw new Error(`no ${table} ${field} in ${ns}'s /proc/net/snmp`);
  return Number(rows[1]![i]);
}

/**
 * Replaces an interface's IPv4 address by another in the same /24; the routes through that
 * subnet stay (the old primary's secondaries are promoted, not deleted with it).
 */
export function moveAddress(lab: Lab, ns: string, dev: string, from: string, to: string): void {
  lab.exec(ns, 'sysctl', ['-qw', `net.ipv4.conf.${dev}.promote_secondaries=1`]);
  lab.ip(ns, 'addr', 'add', `${to}/24`, 'dev', dev);
  lab.ip(ns, 'addr', 'del', `${from}/24`, 'dev', dev);
}

/** `ping` from `from` to `to`; true when at least `min` replies came back. */
export function ping(
  lab: Lab,
  from: Side,
  to: string,
  opts: { count?: number; size?: number; min?: number; df?: boolean } = {},
): boolean {
  const count = opts.count ?? 3;
  const args = ['-c', String(count), '-i', '0.2', '-W', '2', '-n', '-q'];
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.df) args.push('-M', 'do');
  const r = lab.exec(from.ns, 'ping', [...args, to], { timeoutMs: 15_000 + count * 1000 });
  const m = /(\d+) received/.exec(r.stdout);
  return m !== null && Number(m[1]) >= (opts.min ?? count);
}

/** A peer's fields from `wg show IF dump`, by public key. */
export function dumpPeers(
  lab: Lab,
  s: Side,
): Map<
  string,
  { endpoint: string; allowed: string; handshake: number; rx: number; tx: number; keepalive: string }
> {
  const lines = lab.wg(s.ns, ['show', s.ifname, 'dump']).trim().split('\n').slice(1);
  const out = new Map<
    string,
    { endpoint: string; allowed: string; handshake: number; rx: number; tx: number; keepalive: string }
  >();
  for (const l of lines) {
    const f = l.split('\t');
    if (f.length < 8) continue;
    out.set(f[0]!, {
      endpoint: f[2]!,
      allowed: f[3]!,
      handshake: Number(f[4]),
      rx: Number(f[5]),
      tx: Number(f[6]),
      keepalive: f[7]!,
    });
  }
  return out;
}

// ---- Two daemons born in one namespace, their interfaces moved to others ----

export interface MovedTunnel extends Tunnel {
  /** The namespace both daemons run in and their UDP sockets talk through (loopback). */
  home: string;
}

export interface MovedTunnelOptions {
  /** Family of the loopback addresses the endpoints use (127.0.0.1 or ::1). */
  outer?: 4 | 6;
  ports?: [number, number];
  /** Which interfaces move out of the home namespace (default both), each to its own. */
  move?: [boolean, boolean];
  /** MTU of the WireGuard interfaces, set after the move (default 1420). */
  mtu?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * The container pattern of WireGuard: both daemons start in namespace H, where their UDP
 * sockets stay; their interfaces then move to namespaces A and B (`ip link set IF netns A`)
 * and are configured there (inner addresses 10.77.0.1-2/24, fd77::1-2/64, MTU, up), while the
 * keys, ports and peers are set with stock `wg` from H after the move. The endpoints are H's
 * loopback addresses. A side that does not move keeps its interface in H.
 */
export async function movedTunnel(
  lab: Lab,
  implA: Impl,
  implB: Impl,
  opts: MovedTunnelOptions = {},
): Promise<MovedTunnel> {
  const outer = opts.outer ?? 4;
  const [portA, portB] = opts.ports ?? [51820, 51821];
  const move = opts.move ?? [true, true];
  const home = lab.netns('h');
  const [dA, dB] = await Promise.all([
    lab.daemon(implA, home, { env: opts.env }),
    lab.daemon(implB, home, { env: opts.env }),
  ]);
  const loop = { v4: '127.0.0.1', v6: '::1' };
  const side = (d: Daemon, i: 0 | 1, port: number): Side => {
    const ns = move[i] ? lab.netns(i === 0 ? 'a' : 'b') : home;
    if (ns !== home) lab.moveLink(home, d.ifname, ns);
    return {
      d,
      ns,
      ifname: d.ifname,
      key: keypair(),
      port,
      outer: loop,
      inner: { v4: `10.77.0.${i + 1}`, v6: `fd77::${i + 1}` },
    };
  };
  const a = side(dA, 0, portA);
  const b = side(dB, 1, portB);
  const endpoint = configurePair(lab, a, b, outer, opts.mtu, home);
  return { home, a, b, vethA: 'lo', vethB: 'lo', endpoint };
}
