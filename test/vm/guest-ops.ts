// Runs inside the test VM (node .build/.../test/vm/guest-ops.js <op> ...): drives wgm's kernel
// backend against the guest's real wireguard.ko and prints results for the host-side tests.
//
//   status | list                       JSON
//   get IF                              JSON of the Device (keys base64, bigints as strings)
//   showconf IF | dump IF               the device in `wg showconf` / `wg show IF dump` form
//   set IF SPEC.json                    kernelSet with a DeviceSpec (see specToDevice)
//   capture-get IF [RECVBUF] | capture-links | capture-family NAME
//                                       the raw request and reply datagrams, as hex JSON
//   nlmon IF OUT READY STOP             record netlink traffic on an nlmon device (nlmon.ts)
//   compare-set CAPTURE IF SPEC.json    wg's captured SET messages vs wgm's encoding, as JSON
//   compare-get CAPTURE IF              wg's captured GETFAMILY/GET requests vs wgm's
//   batch FILE                          many of the above in one process (see batch())
// Timings of the backend calls alone (without node's start-up) go to stderr as `<op>-ms=N`.

import { readFileSync, writeFileSync } from 'node:fs';
import type { MessageBuilder } from '../../src/backend/netlink/attrs.js';
import {
  CTRL_CMD_GETFAMILY,
  GENL_ID_CTRL,
  WG_CMD_GET_DEVICE,
  WG_CMD_SET_DEVICE,
} from '../../src/backend/netlink/constants.js';
import { encodeGetDevice } from '../../src/backend/netlink/device-get.js';
import { encodeSetDevice } from '../../src/backend/netlink/device-set.js';
import type { NetlinkError } from '../../src/backend/netlink/errors.js';
import { encodeGetFamily, resolveFamily } from '../../src/backend/netlink/family.js';
import { kernelGet, kernelList, kernelSet, kernelStatus } from '../../src/backend/netlink/index.js';
import { encodeGetLinks } from '../../src/backend/netlink/links.js';
import type { ScopeNames } from '../../src/backend/netlink/sockaddr.js';
import { Connection, readReply } from '../../src/backend/netlink/transport.js';
import { keyFromBase64, keyToBase64 } from '../../src/crypto/keys.js';
import type { AllowedIP, Device, SockAddr } from '../../src/model/index.js';
import { newDevice, newPeer } from '../../src/model/index.js';
import { inetPton4, inetPton6 } from '../../src/model/inet.js';
import { ifIndexToName, ifNameToIndex } from '../../src/sys/ifname.js';
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkSocket } from '../../src/sys/netlink.js';
import { captureNlmon } from './nlmon.js';
import { capturedRequests, compareRequests } from './wg-requests.js';
import { dumpText, showconfText } from './wg-text.js';

export interface PeerSpec {
  publicKey: string;
  presharedKey?: string;
  endpoint?: SockAddr;
  keepalive?: number;
  /** `a.b.c.d/n`, `x::/n`, with a leading `-` for a removal. */
  allowedIPs?: string[];
  replaceAllowedIPs?: boolean;
  remove?: boolean;
  updateOnly?: boolean;
}

export interface DeviceSpec {
  privateKey?: string;
  listenPort?: number;
  fwmark?: number;
  replacePeers?: boolean;
  peers?: PeerSpec[];
}

function key(b64: string): Uint8Array {
  const k = keyFromBase64(b64);
  if (!k) throw new Error(`bad key in spec: ${b64.length} characters`);
  return k;
}

export function allowedIPOf(text: string): AllowedIP {
  const remove = text.startsWith('-');
  const [addr, cidr] = (remove ? text.slice(1) : text).split('/') as [string, string | undefined];
  const v4 = inetPton4(addr);
  const address = v4 ?? inetPton6(addr);
  if (!address) throw new Error(`bad address in spec: ${text}`);
  const family = v4 ? 4 : 6;
  const ip: AllowedIP = {
    family,
    address,
    cidr: cidr === undefined ? (family === 4 ? 32 : 128) : Number(cidr),
  };
  if (remove) ip.remove = true;
  return ip;
}

export function specToDevice(s: DeviceSpec): Device {
  const d = newDevice({ replacePeers: s.replacePeers ?? false });
  if (s.privateKey !== undefined) d.privateKey = key(s.privateKey);
  if (s.listenPort !== undefined) d.listenPort = s.listenPort;
  if (s.fwmark !== undefined) d.fwmark = s.fwmark;
  for (const p of s.peers ?? []) {
    const peer = newPeer({
      publicKey: key(p.publicKey),
      allowedIPs: (p.allowedIPs ?? []).map(allowedIPOf),
      replaceAllowedIPs: p.replaceAllowedIPs ?? false,
      remove: p.remove ?? false,
      updateOnly: p.updateOnly ?? false,
    });
    if (p.presharedKey !== undefined) peer.presharedKey = key(p.presharedKey);
    if (p.endpoint) peer.endpoints = [{ addr: p.endpoint }];
    if (p.keepalive !== undefined) peer.persistentKeepalive = p.keepalive;
    d.peers.push(peer);
  }
  return d;
}

function deviceJson(d: Device): unknown {
  return JSON.parse(
    JSON.stringify(d, (_k, v) => {
      if (v instanceof Uint8Array) return v.length === 32 ? keyToBase64(v) : Array.from(v);
      if (typeof v === 'bigint') return v.toString();
      return v;
    }),
  );
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Sends one request on a raw socket and records every reply datagram until the reply ends.
 * With `family`, the generic netlink family id is resolved first (on another socket).
 */
function capture(
  protocol: number,
  build: (familyId: number) => MessageBuilder,
  recvSize: number,
  family?: string,
) {
  let familyId = 0;
  if (family !== undefined) {
    const c = Connection.open(protocol);
    try {
      familyId = resolveFamily(c, family);
    } finally {
      c.close();
    }
  }
  const sock = NetlinkSocket.open(protocol);
  try {
    const seq = 1000;
    const request = build(familyId).finish(seq);
    sock.send(request);
    const datagrams: string[] = [];
    const buf = new Uint8Array(recvSize);
    let errno = 0;
    for (let i = 0; i < 100_000; i++) {
      const d = sock.recv(buf);
      datagrams.push(hex(d));
      try {
        if (readReply(d, seq, sock.portId, () => {})) break;
      } catch (e) {
        errno = (e as NetlinkError).errno;
        break;
      }
    }
    return { familyId, request: hex(request), recvSize, datagrams, errno };
  } finally {
    sock.close();
  }
}

type Op = [op: string, ...args: string[]];

const SCOPES: ScopeNames = { nameOf: ifIndexToName, indexOf: ifNameToIndex };

function familyId(): number {
  const c = Connection.open(NETLINK_GENERIC);
  try {
    return resolveFamily(c, 'wireguard');
  } finally {
    c.close();
  }
}

/** Runs one op and returns what it prints; `timings` collects `<name>-ms` for the backend call alone. */
async function runOp([op, a1, a2, a3, a4]: Op, timings: string[]): Promise<string> {
  const t0 = performance.now();
  const timed = (name: string) => timings.push(`${name}-ms=${(performance.now() - t0).toFixed(1)}`);
  switch (op) {
    case 'status':
      return `${JSON.stringify(await kernelStatus())}\n`;
    case 'list':
      return `${JSON.stringify(await kernelList())}\n`;
    case 'get':
      return `${JSON.stringify(deviceJson(await kernelGet(a1!)))}\n`;
    case 'showconf': {
      const d = await kernelGet(a1!);
      timed('get');
      return showconfText(d);
    }
    case 'dump': {
      const d = await kernelGet(a1!);
      timed('get');
      return dumpText(d);
    }
    case 'set': {
      const d = specToDevice(JSON.parse(readFileSync(a2!, 'utf8')) as DeviceSpec);
      const t1 = performance.now();
      await kernelSet(a1!, d);
      timings.push(`set-ms=${(performance.now() - t1).toFixed(1)}`);
      return '';
    }
    case 'capture-get':
      return `${JSON.stringify(capture(NETLINK_GENERIC, (id) => encodeGetDevice(id, a1!), Number(a2 ?? 4096), 'wireguard'))}\n`;
    case 'nlmon':
      // nlmon IF OUT READY STOP: runs until STOP exists.
      return `${captureNlmon(a1!, a2!, a3!, a4!)} packets\n`;
    case 'compare-set': {
      // compare-set CAPTURE IFNAME SPEC: wg's SET_DEVICE messages for IFNAME vs wgm's for SPEC.
      const family = familyId();
      const wg = capturedRequests(a1!, family, WG_CMD_SET_DEVICE, a2!);
      const d = specToDevice(JSON.parse(readFileSync(a3!, 'utf8')) as DeviceSpec);
      return `${JSON.stringify(compareRequests(wg, encodeSetDevice(family, a2!, d, SCOPES)))}\n`;
    }
    case 'compare-get': {
      // compare-get CAPTURE IFNAME: wg's GETFAMILY and GET_DEVICE requests vs wgm's.
      const family = familyId();
      const ctrl = capturedRequests(a1!, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
      const get = capturedRequests(a1!, family, WG_CMD_GET_DEVICE, a2!);
      return `${JSON.stringify({
        family: compareRequests(ctrl.slice(0, 1), [encodeGetFamily('wireguard')]),
        get: compareRequests(get, [encodeGetDevice(family, a2!)]),
      })}\n`;
    }
    case 'capture-links':
      return `${JSON.stringify(capture(NETLINK_ROUTE, () => encodeGetLinks(), Number(a1 ?? 32768)))}\n`;
    case 'capture-family':
      return `${JSON.stringify(capture(NETLINK_GENERIC, () => encodeGetFamily(a1 ?? 'wireguard'), 4096))}\n`;
    default:
      throw new Error(`guest-ops: unknown op ${op}`);
  }
}

function failureText(e: unknown): string {
  const err = e as { message?: string; errno?: number };
  return `errno=${err.errno ?? 0} ${err.message ?? String(e)}\n`;
}

/**
 * `batch FILE`: FILE holds [{ op: [name, ...args], out: path }]; each op's output goes to
 * `out`, a failure to `out.err` (`errno=N message`), timings to `out.ms`. One node start-up
 * for many operations: node is slow to start in the emulated guest.
 */
async function batch(file: string): Promise<void> {
  const jobs = JSON.parse(readFileSync(file, 'utf8')) as { op: Op; out: string }[];
  for (const job of jobs) {
    const timings: string[] = [];
    try {
      writeFileSync(job.out, await runOp(job.op, timings));
    } catch (e) {
      writeFileSync(`${job.out}.err`, failureText(e));
    }
    if (timings.length > 0) writeFileSync(`${job.out}.ms`, `${timings.join('\n')}\n`);
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'batch') return batch(argv[1]!);
  const timings: string[] = [];
  process.stdout.write(await runOp(argv as Op, timings));
  for (const t of timings) process.stderr.write(`${t}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`guest-ops: ${failureText(e)}`);
  process.exit(1);
});
