// WG_CMD_SET_DEVICE: a Device change as one or more messages, split exactly as wireguard-tools'
// kernel_set_device (ipc-linux.h) splits them, so that any number of peers and allowed IPs
// fits in messages of wg's size:
//
// - Every message carries IFNAME. The first also carries PRIVATE_KEY, LISTEN_PORT, FWMARK and
//   FLAGS (REPLACE_PEERS), each only when the change sets it.
// - When a peer does not fit, its nest is dropped and the next message starts with it again.
// - When an allowed IP does not fit, the peer nest is closed after the IPs that fit and the
//   next message continues the same peer: PUBLIC_KEY, the per-fragment flags (REMOVE_ME, and
//   UPDATE_ONLY, which wg never sends but must hold for every fragment lest a continuation
//   create the peer) and the remaining ALLOWEDIPS. REPLACE_ALLOWEDIPS, PRESHARED_KEY, ENDPOINT
//   and PERSISTENT_KEEPALIVE_INTERVAL go with the first fragment only.
// - Attribute order inside a peer is wg's: PUBLIC_KEY, PRESHARED_KEY, ENDPOINT,
//   PERSISTENT_KEEPALIVE_INTERVAL, FLAGS, ALLOWEDIPS; inside an allowed IP: FAMILY, IPADDR,
//   CIDR_MASK, then FLAGS (REMOVE_ME) only for a removal, as the current wg does.

import type { AllowedIP, Device, Peer } from '../../model/index.js';
import { type MessageBuilder, strz, u16, u32 } from './attrs.js';
import {
  AF_INET,
  AF_INET6,
  EINVAL,
  EMSGSIZE,
  IFNAMSIZ,
  NLM_F_ACK,
  NLM_F_REQUEST,
  SET_MESSAGE_SIZE,
  WG_CMD_SET_DEVICE,
  WG_GENL_VERSION,
  WG_KEY_LEN,
  WGALLOWEDIP_A_CIDR_MASK,
  WGALLOWEDIP_A_FAMILY,
  WGALLOWEDIP_A_FLAGS,
  WGALLOWEDIP_A_IPADDR,
  WGALLOWEDIP_F_REMOVE_ME,
  WGDEVICE_A_FLAGS,
  WGDEVICE_A_FWMARK,
  WGDEVICE_A_IFNAME,
  WGDEVICE_A_LISTEN_PORT,
  WGDEVICE_A_PEERS,
  WGDEVICE_A_PRIVATE_KEY,
  WGDEVICE_F_REPLACE_PEERS,
  WGPEER_A_ALLOWEDIPS,
  WGPEER_A_ENDPOINT,
  WGPEER_A_FLAGS,
  WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
  WGPEER_A_PRESHARED_KEY,
  WGPEER_A_PUBLIC_KEY,
  WGPEER_F_REMOVE_ME,
  WGPEER_F_REPLACE_ALLOWEDIPS,
  WGPEER_F_UPDATE_ONLY,
} from './constants.js';
import { NetlinkError } from './errors.js';
import { genlMessage } from './family.js';
import { encodeSockAddr, type ScopeNames } from './sockaddr.js';

/** The interface name as wg sends it on set: at most IFNAMSIZ - 1 bytes (longer is cut). */
export function setIfname(name: string): Uint8Array {
  const z = strz(name);
  if (z.length <= IFNAMSIZ) return z;
  const cut = z.slice(0, IFNAMSIZ);
  cut[IFNAMSIZ - 1] = 0;
  return cut;
}

/** Where the next message starts: a peer (undefined: the device itself) and an allowed IP. */
interface Cursor {
  peer: number | undefined;
  /** Index of the next allowed IP of a peer in progress; undefined: the peer starts afresh. */
  allowedIP: number | undefined;
}

/**
 * The SET_DEVICE messages for `change`, in order (each to be sent once the previous one is
 * acknowledged). Generated lazily: a change with 130,000 allowed IPs is about 900 messages.
 */
export function* encodeSetDevice(
  familyId: number,
  name: string,
  change: Device,
  scopes: ScopeNames,
  capacity = SET_MESSAGE_SIZE,
): Generator<MessageBuilder> {
  const ifname = setIfname(name);
  const peers = change.peers.map((p) => checkedPeer(p, scopes));
  const cur: Cursor = { peer: undefined, allowedIP: undefined };
  for (;;) {
    const m = genlMessage(familyId, WG_CMD_SET_DEVICE, WG_GENL_VERSION, NLM_F_REQUEST | NLM_F_ACK, capacity);
    m.put(WGDEVICE_A_IFNAME, ifname);
    const started = cur.peer;
    const startedAt = cur.allowedIP;
    if (cur.peer === undefined) putDevice(m, change);
    if (peers.length === 0) {
      yield m;
      return;
    }
    const more = putPeers(m, peers, cur);
    if (more && cur.peer === started && cur.allowedIP === startedAt) {
      throw new NetlinkError(EMSGSIZE, `a peer does not fit in a ${capacity}-byte netlink message`);
    }
    yield m;
    if (!more) return;
  }
}

function inRange(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new NetlinkError(EINVAL, `${what} out of range: ${v}`);
  return v;
}

function putDevice(m: MessageBuilder, change: Device): void {
  if (change.privateKey !== undefined) {
    if (change.privateKey.length !== WG_KEY_LEN)
      throw new NetlinkError(EINVAL, 'private key of the wrong length');
    m.put(WGDEVICE_A_PRIVATE_KEY, change.privateKey);
  }
  if (change.listenPort !== undefined)
    m.putU16(WGDEVICE_A_LISTEN_PORT, inRange(change.listenPort, 0xffff, 'listen port'));
  if (change.fwmark !== undefined) m.putU32(WGDEVICE_A_FWMARK, inRange(change.fwmark, 0xffffffff, 'fwmark'));
  if (change.replacePeers) m.putU32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
}

/** A peer's attributes, encoded and checked once before any message is built. */
interface PeerBytes {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  endpoint?: Uint8Array;
  keepalive?: Uint8Array;
  /** Flags sent with every fragment. */
  fragmentFlags: number;
  replaceAllowedIPs: boolean;
  allowedIPs: AllowedIP[];
}

function checkedPeer(p: Peer, scopes: ScopeNames): PeerBytes {
  if (p.publicKey?.length !== WG_KEY_LEN) throw new NetlinkError(EINVAL, 'peer without a valid public key');
  if (p.presharedKey !== undefined && p.presharedKey.length !== WG_KEY_LEN) {
    throw new NetlinkError(EINVAL, 'preshared key of the wrong length');
  }
  const out: PeerBytes = {
    publicKey: p.publicKey,
    fragmentFlags: (p.remove ? WGPEER_F_REMOVE_ME : 0) | (p.updateOnly ? WGPEER_F_UPDATE_ONLY : 0),
    replaceAllowedIPs: p.replaceAllowedIPs,
    allowedIPs: p.allowedIPs,
  };
  if (p.presharedKey !== undefined) out.presharedKey = p.presharedKey;
  // The kernel holds one endpoint per peer; like wg, the last one given wins.
  const last = p.endpoints[p.endpoints.length - 1];
  if (last !== undefined) {
    if (!last.addr) throw new NetlinkError(EINVAL, `endpoint not resolved: ${last.spec ?? '?'}`);
    out.endpoint = encodeSockAddr(last.addr, scopes);
  }
  if (p.persistentKeepalive !== undefined)
    out.keepalive = u16(inRange(p.persistentKeepalive, 0xffff, 'persistent keepalive'));
  for (const ip of p.allowedIPs) {
    const len = ip.family === 4 ? 4 : 16;
    if (ip.address.length !== len || ip.cidr < 0 || ip.cidr > len * 8) {
      throw new NetlinkError(EINVAL, 'malformed allowed IP');
    }
  }
  return out;
}

/**
 * Writes the PEERS nest from `cur` on and advances `cur`. Returns true when peers are left
 * for another message (the labels mirror wg's toobig_peers / toobig_allowedips).
 */
function putPeers(m: MessageBuilder, peers: PeerBytes[], cur: Cursor): boolean {
  const peersNest = m.nestStart(WGDEVICE_A_PEERS);
  for (let i = cur.peer ?? 0; i < peers.length; i++) {
    const p = peers[i]!;
    cur.peer = i;
    const peerNest = m.nestStartCheck(0);
    if (peerNest === undefined) return tooBigPeers(m, peersNest, undefined);
    if (!m.putCheck(WGPEER_A_PUBLIC_KEY, p.publicKey)) return tooBigPeers(m, peersNest, peerNest);
    let flags = p.fragmentFlags;
    if (cur.allowedIP === undefined) {
      if (p.replaceAllowedIPs) flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
      if (p.presharedKey && !m.putCheck(WGPEER_A_PRESHARED_KEY, p.presharedKey)) {
        return tooBigPeers(m, peersNest, peerNest);
      }
      if (p.endpoint && !m.putCheck(WGPEER_A_ENDPOINT, p.endpoint))
        return tooBigPeers(m, peersNest, peerNest);
      if (p.keepalive && !m.putCheck(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p.keepalive)) {
        return tooBigPeers(m, peersNest, peerNest);
      }
    }
    if (flags !== 0 && !m.putU32Check(WGPEER_A_FLAGS, flags)) return tooBigPeers(m, peersNest, peerNest);
    if (p.allowedIPs.length > 0) {
      cur.allowedIP ??= 0;
      const ipsNest = m.nestStartCheck(WGPEER_A_ALLOWEDIPS);
      if (ipsNest === undefined) return tooBigAllowedIPs(m, peersNest, peerNest, undefined, undefined);
      for (; cur.allowedIP < p.allowedIPs.length; cur.allowedIP++) {
        const ip = p.allowedIPs[cur.allowedIP]!;
        const ipNest = m.nestStartCheck(0);
        if (ipNest === undefined) return tooBigAllowedIPs(m, peersNest, peerNest, ipsNest, undefined);
        const ok =
          m.putU16Check(WGALLOWEDIP_A_FAMILY, ip.family === 4 ? AF_INET : AF_INET6) &&
          m.putCheck(WGALLOWEDIP_A_IPADDR, ip.address) &&
          m.putU8Check(WGALLOWEDIP_A_CIDR_MASK, ip.cidr) &&
          (!ip.remove || m.putCheck(WGALLOWEDIP_A_FLAGS, u32(WGALLOWEDIP_F_REMOVE_ME)));
        if (!ok) return tooBigAllowedIPs(m, peersNest, peerNest, ipsNest, ipNest);
        m.nestEnd(ipNest);
      }
      m.nestEnd(ipsNest);
    }
    cur.allowedIP = undefined;
    m.nestEnd(peerNest);
  }
  m.nestEnd(peersNest);
  cur.peer = undefined;
  return false;
}

function tooBigPeers(m: MessageBuilder, peersNest: number, peerNest: number | undefined): true {
  if (peerNest !== undefined) m.nestCancel(peerNest);
  m.nestEnd(peersNest);
  return true;
}

function tooBigAllowedIPs(
  m: MessageBuilder,
  peersNest: number,
  peerNest: number,
  ipsNest: number | undefined,
  ipNest: number | undefined,
): true {
  if (ipNest !== undefined) m.nestCancel(ipNest);
  if (ipsNest !== undefined) m.nestEnd(ipsNest);
  m.nestEnd(peerNest);
  m.nestEnd(peersNest);
  return true;
}
