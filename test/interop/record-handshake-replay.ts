// The format of a recorded exchange between wgm's Core and a real wireguard-go, and the
// offline replayer: it feeds the recorded inputs to a fresh Core (with the simulation's data
// plane, which seals and opens transport as the workers do) at the recorded times, with the
// recorded randomness, and reports every output datagram/packet so that a test can compare
// them byte for byte with what was recorded.
//
// Recordings are made by record-handshake.ts; the fixture lives in test/fixtures/handshake/.
// Addresses are text in a recording, binary inside the Core (engine/endpoint-text.ts converts).

import type { Action } from '../../src/engine/core/actions.js';
import type { PathAddr } from '../../src/engine/core/addr.js';
import { Core } from '../../src/engine/core/core.js';
import { pathFromText, pathToText } from '../../src/engine/endpoint-text.js';
import { newDevice, newPeer, type SockAddr } from '../../src/model/index.js';
import { SimDataPlane } from '../unit/engine/core/sim-dataplane.js';

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
  return newDevice<PathAddr>({
    privateKey: hex(r.ourPrivateKey),
    peers: [
      newPeer({
        publicKey: hex(r.theirPublicKey),
        // As the responder we learn wireguard-go's endpoint from its initiation.
        endpoints: r.mode === 'initiator' ? [{ addr: pathFromText(r.theirEndpoint) }] : [],
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

/**
 * A Core with the simulation's data plane (the workers' sealing and opening code), whose
 * datagrams and TUN packets are recorded as outputs stamped with the current input's time;
 * `onAction` and `onTun` see them as they happen (the recorder sends and answers with them).
 */
export function recordingCore(
  r: Pick<Recording, 'wallEpochNs' | 'mtu'>,
  random: (n: number) => Uint8Array,
  hooks: {
    onSend?: (to: SockAddr, bytes: Uint8Array) => void;
    onTun?: (p: Uint8Array) => void;
    onAction?: (a: Action) => void;
  } = {},
) {
  const core = new Core({ wallEpochNs: BigInt(r.wallEpochNs), random });
  const outputs: RecordedOutput[] = [];
  const clock = { at: 0 };
  const dp = new SimDataPlane(
    core,
    {
      send: (to, bytes) => {
        const text = pathToText(to);
        outputs.push({ kind: 'send', at: clock.at, to: text, hex: toHex(bytes) });
        hooks.onSend?.(text, bytes);
      },
      tun: (p) => {
        outputs.push({ kind: 'writeTun', at: clock.at, hex: toHex(p) });
        hooks.onTun?.(p);
      },
      action: (a) => {
        if (a.type === 'log' && a.level === 'error') throw new Error(a.msg);
        hooks.onAction?.(a);
      },
    },
    r.mtu,
  );
  /** Runs one input at time `at` through the data plane and the core. */
  const input = (at: number, fn: () => Action[] | undefined) => {
    clock.at = at;
    const actions = fn();
    if (actions) dp.apply(actions, at);
  };
  return { core, dp, outputs, input };
}

/** Replays a recording into a fresh Core; returns its outputs and the Core. */
export function replay(r: Recording): { outputs: RecordedOutput[]; core: Core } {
  const { core, dp, outputs, input: run } = recordingCore(r, scriptedRandom(r.random));
  const theirKey = hex(r.theirPublicKey);
  for (const input of r.inputs) {
    const at = input.at;
    switch (input.kind) {
      case 'configure':
        run(at, () => core.configure(recordingConfig(r), at));
        break;
      case 'initiate':
        run(at, () => core.initiate(theirKey, at));
        break;
      case 'datagram':
        run(at, () => void dp.datagram(pathFromText(input.from), hex(input.hex), at));
        break;
      case 'packetFromTun':
        run(at, () => core.packetFromTun(hex(input.hex), at));
        break;
      case 'tick':
        run(at, () => core.tick(at));
        break;
    }
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
