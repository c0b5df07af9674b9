// The initiators of the handshake benchmarks (engine.ts's handshakes/s row and
// handshake-profile.ts): HANDSHAKE_PEERS real Cores in one client process
// (engine-handshake-client.ts) in the pair's A namespace, each from its own address, against the
// pair's B side, which knows all their public keys.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keypair, type Lab, type Tunnel } from '../lib/netns.js';

export const HANDSHAKE_PEERS = 100;
export const HANDSHAKE_CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'engine-handshake-client.js');

export interface Initiators {
  t: Tunnel;
  /** The initiators' private keys, one per line. */
  keyFile: string;
  /** One local address per initiator on A's link: responders limit handshakes per address. */
  sources: string[];
}

/** What the client prints: handshakes completed over `seconds`, its CPU, cookies and retries. */
export interface ClientReport {
  handshakes: number;
  seconds: number;
  cpu: number;
  cookies: number;
  retries: number;
}

/** Gives B the initiators' public keys and A one address per initiator. */
export function prepareInitiators(lab: Lab, t: Tunnel): Initiators {
  const keys = Array.from({ length: HANDSHAKE_PEERS }, () => keypair());
  const conf = keys
    .map((k, i) => `[Peer]\nPublicKey = ${k.pub}\nAllowedIPs = 10.200.${i >> 8}.${i & 255}/32\n`)
    .join('\n');
  lab.wg(t.b.ns, ['addconf', t.b.ifname, lab.file(`hs-${t.b.ifname}.conf`, conf)]);
  const keyFile = lab.file(`hs-${t.b.ifname}.keys`, keys.map((k) => k.priv).join('\n'));
  const prefix = t.a.outer.v4.slice(0, t.a.outer.v4.lastIndexOf('.'));
  const sources = keys.map((_, i) => `${prefix}.${10 + i}`);
  for (const a of sources) lab.ip(t.a.ns, 'addr', 'add', `${a}/32`, 'dev', t.vethA);
  return { t, keyFile, sources };
}

export interface ClientOptions {
  seconds: number;
  /** Every initiator from A's own address instead of one address each. */
  oneSource?: boolean;
  /** Another build's engine-handshake-client.js. */
  client?: string;
}

/** Runs the client for `seconds`; throws when it fails. */
export function runInitiators(lab: Lab, r: Initiators, opts: ClientOptions): ClientReport {
  const { t } = r;
  const args = [
    opts.client ?? HANDSHAKE_CLIENT,
    t.b.outer.v4,
    String(t.b.port),
    t.b.key.pub,
    r.keyFile,
    String(opts.seconds),
  ];
  if (!opts.oneSource) args.push(r.sources.join(','));
  const res = lab.exec(t.a.ns, process.execPath, args, { timeoutMs: (opts.seconds + 30) * 1000 });
  if (res.status !== 0) throw new Error(`handshake client: ${res.stderr.slice(0, 2000)}`);
  return JSON.parse(res.stdout.trim()) as ClientReport;
}
