// Two data planes in two private network namespaces joined by a veth pair, each with one peer
// (the other) and a hand-installed keypair: the fixture of the data-plane tests.
//
//   ns A: veth 192.168.<n>.1, tunA 10.<n>.0.1/24  ──UDP──  ns B: veth 192.168.<n>.2, tunB 10.<n>.0.2/24
//
// Keys are fixed bytes (no handshake): A sends with K1 and receives with K2, B the reverse.

import { spawnSync } from 'node:child_process';
import { Keypair } from '../../../../src/engine/core/keypair.js';
import { DataPlane, type DataPlaneOptions } from '../../../../src/engine/dataplane/dataplane.js';
import { hostAddr } from '../../../lib/path-addr.js';
import { addNetns, deleteNetns, inNetns, ip, nsName, vethPair } from '../../sys/netns.js';

export const K1 = new Uint8Array(32).fill(0x11);
export const K2 = new Uint8Array(32).fill(0x22);
export const INDEX_A = 0x0a0a0a00; // A's local index (low byte 0: receive lane 0)
export const INDEX_B = 0x0b0b0b01; // B's local index (low byte 1: lane 1 when there are two)

export interface Pair {
  nsA: string;
  nsB: string;
  dpA: DataPlane;
  dpB: DataPlane;
  /** B as seen by A, and A as seen by B. */
  peerOnA: number;
  peerOnB: number;
  vethA: string;
  vethB: string;
  tunA: string;
  tunB: string;
  net: number;
  keypairA: number;
  keypairB: number;
  close(): Promise<void>;
}

export interface PairOptions {
  net: number;
  tag: string;
  dp?: Partial<DataPlaneOptions>;
  /** B's options when they differ from A's. */
  dpB?: Partial<DataPlaneOptions>;
  /** Install the keypairs and make them the sending ones (default true). */
  keys?: boolean;
}

export async function makePair(o: PairOptions): Promise<Pair> {
  const nsA = nsName(`${o.tag}a`);
  const nsB = nsName(`${o.tag}b`);
  deleteNetns(nsA);
  deleteNetns(nsB);
  addNetns(nsA);
  addNetns(nsB);
  let dpA: DataPlane | undefined;
  let dpB: DataPlane | undefined;
  const close = async () => {
    await dpA?.stop();
    await dpB?.stop();
    deleteNetns(nsA);
    deleteNetns(nsB);
  };
  try {
    const { addrA, addrB } = vethPair(nsA, nsB, o.net);
    dpA = await inNetns(nsA, () => DataPlane.start({ tunName: 'tunA', port: 0, ...o.dp }));
    dpB = await inNetns(nsB, () => DataPlane.start({ tunName: 'tunB', port: 0, ...(o.dpB ?? o.dp) }));
    ip(nsA, 'addr', 'add', `10.${o.net}.0.1/24`, 'dev', 'tunA');
    ip(nsB, 'addr', 'add', `10.${o.net}.0.2/24`, 'dev', 'tunB');
    const peerOnA = dpA.addPeer();
    const peerOnB = dpB.addPeer();
    dpA.setEndpoint(peerOnA, hostAddr(addrB, dpB.port));
    dpB.setEndpoint(peerOnB, hostAddr(addrA, dpA.port));
    dpA.setAllowedIPs(peerOnA, [{ family: 4, address: Uint8Array.of(10, o.net, 0, 2), cidr: 32 }]);
    dpB.setAllowedIPs(peerOnB, [{ family: 4, address: Uint8Array.of(10, o.net, 0, 1), cidr: 32 }]);
    let keypairA = -1;
    let keypairB = -1;
    if (o.keys !== false) {
      keypairA = dpA.installKeypair(peerOnA, new Keypair(K1, K2, INDEX_A, INDEX_B, dpA.now(), true));
      keypairB = dpB.installKeypair(peerOnB, new Keypair(K2, K1, INDEX_B, INDEX_A, dpB.now(), false));
      dpA.setSendKeypair(peerOnA, keypairA);
      dpB.setSendKeypair(peerOnB, keypairB);
    }
    await dpA.settle();
    await dpB.settle();
    return {
      nsA,
      nsB,
      dpA,
      dpB,
      peerOnA,
      peerOnB,
      vethA: `${nsA}v`.slice(0, 15),
      vethB: `${nsB}v`.slice(0, 15),
      tunA: 'tunA',
      tunB: 'tunB',
      net: o.net,
      keypairA,
      keypairB,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** `ping` from a namespace; returns how many replies came back. */
export function ping(ns: string, to: string, count: number, size = 56): number {
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'ping',
      '-n',
      '-q',
      '-c',
      String(count),
      '-i',
      '0.1',
      '-W',
      '2',
      '-s',
      String(size),
      to,
    ],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  const m = /(\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** Waits (bounded) until `cond` holds. */
export async function until(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
