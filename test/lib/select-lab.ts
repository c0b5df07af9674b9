// A network-namespace lab for endpoint selection, shared by test/interop/engine-select.test.ts
// and test/bench/select.ts:
//
//   I (initiator) ──veth── M (one relay per path) ──veth── R (stock wireguard-go responder)
//
// The initiator's peer carries one `Endpoint` line per path: path k is a relay of
// test/lib/relay-main.ts listening on its own address of M (192.168.N.(11+k), port 51821) and
// forwarding to R's one listen port with a per-path delay each way; R has one peer and no
// endpoint for it, so it learns the initiator's path by roaming (each relay is one source to it).
// Paths die and come back through the relays' control sockets (blackhole per direction).
//
// With `{ responder: 'wgm-engine' }` both ends are wgm-engine and each has an `Endpoint` line per
// path for the other: path k gets a second relay on M, listening on M's side of the M–R link
// (192.168.(N+1).(11+k), port 51820) and forwarding to the initiator's listen port with the same
// impairments (`reversePaths[k]`). Either side may then initiate.
// The kernel here has no netem, hence the relays.
//
//   const s = await selectLab(lab, [{ delay: 60 }, { delay: 30 }, { delay: 5, dead: true }]);
//   const p = startPing(lab, s.nsI, INNER_R);        // replies with wall-clock times
//   await s.paths[0].command('both blackhole=1');
//   activeEndpoint(s.initiator.ifname)               // what `wg show IF endpoints` prints

import { createConnection } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Daemon, type Impl, keypair, type Lab, SOCKET_DIR, waitFor } from './netns.js';
import { BUILD, WGM } from './run.js';

export const INNER_I = '10.77.0.1';
export const INNER_R = '10.77.0.2';
export const RESPONDER_PORT = 51821;
const INITIATOR_PORT = 51820;

export interface PathSpec {
  /** One-way delay added in each direction, ms (the path's RTT is twice this, plus the relay). */
  delay: number;
  jitter?: number;
  /** Blackholed in both directions from the start. */
  dead?: boolean;
}

export interface Path {
  index: number;
  /** The candidate endpoint, `addr:port` (the relay's listening socket). */
  endpoint: string;
  /** The relay's source as the responder sees it, `addr:port`. */
  upstream: string;
  /** A relay command (`both blackhole=1`, `fwd delay=40`, `stats`); resolves with its answer. */
  command(line: string): Promise<string>;
}

export interface SelectLab {
  nsI: string;
  nsM: string;
  nsR: string;
  initiator: Daemon;
  responder: Daemon;
  paths: Path[];
  /** With a wgm-engine responder: its candidate paths toward the initiator, one per spec. */
  reversePaths: Path[];
  /** The responder's end of the M–R link (for a wire tap) and its listening socket. */
  responderVeth: string;
  responderAddr: string;
  /** The initiator's configuration file, as given to `wgm setconf` or stock `wg setconf`. */
  config: string;
  /** The initiator's end of the I–M link (for a wire tap) and its listening socket. */
  initiatorVeth: string;
  initiatorAddr: string;
  /** The two sides' public keys (base64). */
  initiatorKey: string;
  responderKey: string;
}

export interface SelectLabOptions {
  /** Who initiates: wgm-engine (`wgm setconf`) or stock wireguard-go (`wg setconf`, which keeps the last `Endpoint`). */
  initiator?: Impl;
  /** Subnet number N: I–M is 192.168.N.0/24, M–R 192.168.(N+1).0/24. */
  subnet?: number;
  /** Extra lines for the initiator's [Peer] section (keys `wg setconf` knows). */
  peerLines?: string[];
  /**
   * The initiator's `EndpointPolicy` (a wg-quick-level key that `setconf` refuses, as wg refuses
   * `Address`): set over UAPI (`wgm_endpoint_policy`) right after the configuration.
   */
  policy?: 'latency' | 'preference';
  /**
   * The responder: stock wireguard-go (default: one peer, no endpoint, it follows by roaming) or
   * wgm-engine (`wgm setconf`, one `Endpoint` per path toward the initiator, `peerLines` too).
   */
  responder?: 'wireguard-go' | 'wgm-engine';
  /** Environment for the initiator's daemon (LOG_LEVEL, WGM_MIRROR...), added to this process's. */
  initiatorEnv?: NodeJS.ProcessEnv;
}

/** Starts one relay of test/lib/relay-main.ts in `ns` and waits until it is bound. */
async function startRelay(
  lab: Lab,
  ns: string,
  name: string,
  listen: string,
  target: string,
  spec: PathSpec,
  seed: number,
): Promise<{ upstreamPort: number; command(line: string): Promise<string> }> {
  const impair = `delay=${spec.delay},jitter=${spec.jitter ?? 0},blackhole=${spec.dead ? 1 : 0}`;
  const control = join(lab.dir, `${name}.sock`);
  const proc = lab.spawn(ns, process.execPath, [
    join(BUILD, 'test/lib/relay-main.js'),
    '--listen',
    listen,
    '--target',
    target,
    '--fwd',
    impair,
    '--rev',
    impair,
    '--seed',
    String(seed),
    '--control',
    control,
  ]);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const ready = await waitFor(
    `${name} to be ready`,
    () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited: ${out}`);
      return /^ready (.*)$/m.exec(out)?.[1];
    },
    30_000,
  );
  const bound = JSON.parse(ready!) as { upstream: { port: number } };
  return { upstreamPort: bound.upstream.port, command: (line: string) => relayCommand(control, line) };
}

/** Builds the lab; the initiator is configured but has sent nothing yet. */
/** A config file with one peer: our key and port, the peer's key, its inner /32, one `Endpoint` per path. */
function onePeerConfig(
  priv: string,
  port: number,
  peer: string,
  inner: string,
  via: readonly { endpoint: string }[],
  extra: readonly string[] = [],
): string {
  return [
    '[Interface]',
    `PrivateKey = ${priv}`,
    `ListenPort = ${port}`,
    '',
    '[Peer]',
    `PublicKey = ${peer}`,
    `AllowedIPs = ${inner}/32`,
    ...via.map((p) => `Endpoint = ${p.endpoint}`),
    ...extra,
    '',
  ].join('\n');
}

export async function selectLab(
  lab: Lab,
  specs: PathSpec[],
  opts: SelectLabOptions = {},
): Promise<SelectLab> {
  const n = opts.subnet ?? 236;
  const nsI = lab.netns('i');
  const nsM = lab.netns('m');
  const nsR = lab.netns('r');
  const im = lab.veth(nsI, nsM, n);
  const mr = lab.veth(nsM, nsR, n + 1);
  const responderAddr = `${mr.v4[1]}:${RESPONDER_PORT}`;
  const initiatorAddr = `${im.v4[0]}:${INITIATOR_PORT}`;
  const both = opts.responder === 'wgm-engine';
  const paths = await Promise.all(
    specs.map(async (spec, k) => {
      const host = `192.168.${n}.${11 + k}`;
      lab.ip(nsM, 'addr', 'add', `${host}/24`, 'dev', im.ifB);
      const endpoint = `${host}:${RESPONDER_PORT}`;
      const r = await startRelay(lab, nsM, `relay${k}`, endpoint, responderAddr, spec, k + 1);
      return { index: k, endpoint, upstream: `${mr.v4[0]}:${r.upstreamPort}`, command: r.command };
    }),
  );
  const reversePaths = !both
    ? []
    : await Promise.all(
        specs.map(async (spec, k) => {
          const host = `192.168.${n + 1}.${11 + k}`;
          lab.ip(nsM, 'addr', 'add', `${host}/24`, 'dev', mr.ifA);
          const endpoint = `${host}:${INITIATOR_PORT}`;
          const r = await startRelay(lab, nsM, `rrelay${k}`, endpoint, initiatorAddr, spec, 101 + k);
          return { index: k, endpoint, upstream: `${im.v4[1]}:${r.upstreamPort}`, command: r.command };
        }),
      );
  const [initiator, responder] = await Promise.all([
    lab.daemon(opts.initiator ?? 'wgm-engine', nsI, { env: opts.initiatorEnv }),
    lab.daemon(both ? 'wgm-engine' : 'wireguard-go', nsR),
  ]);
  const ki = keypair();
  const kr = keypair();
  if (both) {
    const rConfig = onePeerConfig(kr.priv, RESPONDER_PORT, ki.pub, INNER_I, reversePaths, opts.peerLines);
    const rFile = lab.file(`${responder.ifname}.conf`, rConfig);
    const r = lab.exec(nsR, process.execPath, [WGM, 'setconf', responder.ifname, rFile]);
    if (r.status !== 0) throw new Error(`setconf ${responder.ifname} failed: ${r.stderr.trim()}`);
  } else {
    const rKey = lab.file(`${responder.ifname}.key`, `${kr.priv}\n`);
    lab.wg(nsR, [
      'set',
      responder.ifname,
      'private-key',
      rKey,
      'listen-port',
      String(RESPONDER_PORT),
      'peer',
      ki.pub,
      'allowed-ips',
      `${INNER_I}/32`,
    ]);
  }
  const config = onePeerConfig(ki.priv, INITIATOR_PORT, kr.pub, INNER_R, paths, opts.peerLines);
  const file = lab.file(`${initiator.ifname}.conf`, config);
  const set =
    initiator.impl === 'wgm-engine'
      ? lab.exec(nsI, process.execPath, [WGM, 'setconf', initiator.ifname, file])
      : lab.exec(nsI, 'wg', ['setconf', initiator.ifname, file]);
  if (set.status !== 0) throw new Error(`setconf ${initiator.ifname} failed: ${set.stderr.trim()}`);
  if (opts.policy) {
    const hex = Buffer.from(kr.pub, 'base64').toString('hex');
    const r = await uapiExchange(
      initiator.ifname,
      `set=1\npublic_key=${hex}\nwgm_endpoint_policy=${opts.policy}\n\n`,
    );
    if (!/^errno=0$/m.test(r)) throw new Error(`setting the policy of ${initiator.ifname} failed: ${r}`);
  }
  for (const [ns, d, addr] of [
    [nsI, initiator, INNER_I],
    [nsR, responder, INNER_R],
  ] as const) {
    lab.ip(ns, 'addr', 'add', `${addr}/24`, 'dev', d.ifname);
    lab.ip(ns, 'link', 'set', d.ifname, 'mtu', '1420', 'up');
  }
  return {
    nsI,
    nsM,
    nsR,
    initiator,
    responder,
    paths,
    reversePaths,
    responderVeth: mr.ifB,
    responderAddr,
    config,
    initiatorVeth: im.ifA,
    initiatorAddr,
    initiatorKey: ki.pub,
    responderKey: kr.pub,
  };
}

/** One line to a relay's control socket; resolves with the answer (`ok {...}` or `error ...`). */
export async function relayCommand(control: string, line: string): Promise<string> {
  const sock = createConnection(control);
  try {
    const answers = createInterface({ input: sock })[Symbol.asyncIterator]();
    sock.write(`${line}\n`);
    const a = (await answers.next()).value as string | undefined;
    if (!a?.startsWith('ok ')) throw new Error(`relay command '${line}': ${a ?? 'no answer'}`);
    return a;
  } finally {
    sock.end();
  }
}

// ---- Observation ----

/** One UAPI `get=1` exchange on the interface's socket (what stock `wg show` reads). */
export function uapiGet(ifname: string): Promise<string> {
  return uapiExchange(ifname, 'get=1\n\n');
}

/** Sends one UAPI request (`get=1` or `set=1` and its lines, ending in a blank line); resolves with the answer. */
export function uapiExchange(ifname: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(join(SOCKET_DIR, `${ifname}.sock`));
    let text = '';
    sock.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.endsWith('\n\n')) {
        sock.end();
        resolve(text);
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(text));
    sock.write(request);
  });
}

/** The interface's one active endpoint (`endpoint=` of its first peer), or '' when none. */
export async function activeEndpoint(ifname: string): Promise<string> {
  return /^endpoint=(.*)$/m.exec(await uapiGet(ifname))?.[1] ?? '';
}

export interface EndpointWatch {
  /** Every value seen, with the wall-clock time (ms) it was first seen. */
  readonly changes: { t: number; endpoint: string }[];
  /** Changes from one non-empty endpoint to another. */
  switches(): number;
  /** The change after which `endpoint` stayed active to the last one seen; undefined if it did not. */
  settledOn(endpoint: string): { t: number; endpoint: string } | undefined;
  stop(): Promise<void>;
}

/** Polls the active endpoint every `stepMs` and records each change. */
export function watchEndpoint(ifname: string, stepMs = 50): EndpointWatch {
  const changes: { t: number; endpoint: string }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const e = await activeEndpoint(ifname).catch(() => undefined);
      if (e !== undefined && e !== changes.at(-1)?.endpoint) changes.push({ t: Date.now(), endpoint: e });
      await new Promise((r) => setTimeout(r, stepMs));
    }
  })();
  return {
    changes,
    switches: () => changes.filter((c, i) => i > 0 && c.endpoint && changes[i - 1]!.endpoint).length,
    settledOn: (endpoint) => {
      const off = changes.findLast((c) => c.endpoint !== endpoint);
      return changes.find((c) => c.endpoint === endpoint && c.t > (off?.t ?? 0));
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

export interface Reply {
  /** Wall-clock arrival (ms), from ping's -D stamp. */
  t: number;
  seq: number;
  rttMs: number;
}

export interface PingRun {
  /** Wall-clock time (ms) just before ping was started. */
  readonly started: number;
  readonly replies: Reply[];
  /** When the first echo was sent: seq 1's send time when it was answered, else `started`. */
  firstSent(): number;
  /** The first reply after `t` (ms) to an echo sent after `t`. */
  firstReplyAfter(t: number): Reply | undefined;
  stop(): Promise<void>;
}

/**
 * Echoes lost around `cut` (ms, wall clock): those between the last one answered that was sent
 * before it and the first one answered that was sent after it, by sequence number.
 */
export function lostAround(ping: PingRun, cut: number): number {
  const before = ping.replies.filter((r) => r.t - r.rttMs < cut).map((r) => r.seq);
  const after = ping.replies.filter((r) => r.t - r.rttMs > cut).map((r) => r.seq);
  if (before.length === 0 || after.length === 0) return Number.NaN;
  const a = Math.max(...before);
  const b = Math.min(...after);
  const between = new Set(ping.replies.filter((r) => r.seq > a && r.seq < b).map((r) => r.seq));
  return b - a - 1 - between.size;
}

/** `ping -D` every `intervalS` from `ns` to `to`, recording each reply. */
export function startPing(lab: Lab, ns: string, to: string, intervalS = 0.05): PingRun {
  const started = Date.now();
  const p = lab.spawn(ns, 'ping', ['-D', '-n', '-i', String(intervalS), '-W', '1', to]);
  const replies: Reply[] = [];
  let partial = '';
  p.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      const m = /^\[(\d+\.\d+)\] .*icmp_seq=(\d+) .*time=([\d.]+) ms/.exec(l);
      if (m) replies.push({ t: Number(m[1]) * 1000, seq: Number(m[2]), rttMs: Number(m[3]) });
    }
  });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  return {
    started,
    replies,
    firstSent: () => {
      const r = replies.find((x) => x.seq === 1);
      return r ? r.t - r.rttMs : started;
    },
    firstReplyAfter: (t) => replies.find((r) => r.t - r.rttMs > t),
    stop: async () => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGINT');
      await exited;
    },
  };
}
