// The format of a recorded exchange between wgm's Core and a real wireguard-go, and the
// offline replayer: it feeds the recorded inputs to a fresh Core at the recorded times, with
// the recorded randomness, and reports every output datagram/packet so that a test can compare
// them byte for byte with what was recorded.
//
// Recordings are made by record-handshake.ts; the fixture lives in test/fixtures/handshake/.

import type { Action } from '../../src/engine/core/actions.js';
import { Core } from '../../src/engine/core/core.js';
import { newDevice, newPeer, type SockAddr } from '../../src/model/index.js';

export type RecordedInput =
  | { kind: 'configure'; at: number }
  | { kind: 'initiate'; at: number }
  | { kind: 'datagram'; at: number; from: SockAddr; hex: string }
  | { kind: 'packetFromTun'; at: number; hex: string }
  | { kind: 'tick'; at: number };

export type RecordedOutput =
  | { kind: 'send'; at: number; to: SockAddr; hex: string }
  | { kind: 'writeTun'; at: number; hex: string };

export interface Recording {
  source: string;
  /** Who initiated: our Core ('initiator') or wireguard-go ('responder' = we responded). */
  mode: 'initiator' | 'responder';
  wireguardGo: string;
  /** Throwaway keys made for this recording only. */
  ourPrivateKey: string;
  theirPrivateKey: string;
  theirPublicKey: string;
  /** wireguard-go's UDP endpoint as the Core saw it. */
  theirEndpoint: SockAddr;
  ourTunnelIP: string;
  theirTunnelIP: string;
  mtu: number;
  wallEpochNs: string;
  /** Every request the Core made for random bytes, in order. */
  random: { n: number; hex: string }[];
  inputs: RecordedInput[];
  outputs: RecordedOutput[];
  /** `wg show IF dump` of wireguard-go after the exchange (its peer line for us). */
  theirDump: string;
  pingExitStatus: number | null;
}

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The configuration the recording Core gets: wireguard-go as its one peer. */
export function recordingConfig(
  r: Pick<Recording, 'mode' | 'ourPrivateKey' | 'theirPublicKey' | 'theirEndpoint' | 'theirTunnelIP'>,
) {
  return newDevice({
    privateKey: hex(r.ourPrivateKey),
    peers: [
      newPeer({
        publicKey: hex(r.theirPublicKey),
        // As the responder we learn wireguard-go's endpoint from its initiation.
        endpoints: r.mode === 'initiator' ? [{ addr: r.theirEndpoint }] : [],
        allowedIPs: [
          { family: 4, address: Uint8Array.from(r.theirTunnelIP.split('.').map(Number)), cidr: 32 },
        ],
      }),
    ],
  });
}

/** A random source that serves a recorded stream, failing loudly when the requests differ. */
export function scriptedRandom(stream: { n: number; hex: string }[]): (n: number) => Uint8Array {
  let i = 0;
  return (n: number) => {
    const next = stream[i];
    if (!next) throw new Error(`random request #${i} (${n} bytes) beyond the recording`);
    if (next.n !== n) throw new Error(`random request #${i} asks ${n} bytes; the recording has ${next.n}`);
    i++;
    return hex(next.hex);
  };
}

export function outputsOf(actions: Action[], at: number): RecordedOutput[] {
  const out: RecordedOutput[] = [];
  for (const a of actions) {
    if (a.type === 'send') out.push({ kind: 'send', at, to: a.to, hex: toHex(a.bytes) });
    else if (a.type === 'writeTun') out.push({ kind: 'writeTun', at, hex: toHex(a.bytes) });
  }
  return out;
}

/** Replays a recording into a fresh Core; returns its outputs and the Core. */
export function replay(r: Recording): { outputs: RecordedOutput[]; core: Core } {
  const core = new Core({ wallEpochNs: BigInt(r.wallEpochNs), random: scriptedRandom(r.random), mtu: r.mtu });
  const theirKey = hex(r.theirPublicKey);
  const outputs: RecordedOutput[] = [];
  for (const input of r.inputs) {
    let actions: Action[];
    switch (input.kind) {
      case 'configure':
        actions = core.configure(recordingConfig(r), input.at);
        break;
      case 'initiate':
        actions = core.initiate(theirKey, input.at);
        break;
      case 'datagram':
        actions = core.datagram(input.from, hex(input.hex), input.at);
        break;
      case 'packetFromTun':
        actions = core.packetFromTun(hex(input.hex), input.at);
        break;
      case 'tick':
        actions = core.tick(input.at);
        break;
    }
    for (const a of actions) if (a.type === 'log' && a.level === 'error') throw new Error(a.msg);
    outputs.push(...outputsOf(actions, input.at));
  }
  return { outputs, core };
}

/** An ICMP echo reply to an IPv4 echo request (checksums recomputed), or undefined. */
export function echoReply(request: Uint8Array): Uint8Array | undefined {
  if (request.length < 28 || request[0]! >> 4 !== 4 || request[9] !== 1) return undefined;
  const ihl = (request[0]! & 0x0f) * 4;
  if (request[ihl] !== 8) return undefined;
  const p = Uint8Array.from(request);
  p.set(request.subarray(16, 20), 12);
  p.set(request.subarray(12, 16), 16);
  p[8] = 64;
  p[ihl] = 0;
  const sum = (from: number, to: number, skip: number) => {
    let s = 0;
    for (let i = from; i < to; i += 2) if (i !== skip) s += (p[i]! << 8) | (i + 1 < to ? p[i + 1]! : 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  };
  const icmp = sum(ihl, p.length, ihl + 2);
  p[ihl + 2] = icmp >> 8;
  p[ihl + 3] = icmp & 0xff;
  const ip = sum(0, ihl, 10);
  p[10] = ip >> 8;
  p[11] = ip & 0xff;
  return p;
}
