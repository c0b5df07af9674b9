// WG_CMD_GET_DEVICE: the request, and the decoding of its dump into one Device (wireguard-tools ipc-linux.h kernel_get_device; the kernel's netlink.c wg_get_device_dump).
//
// The kernel dumps a device as a series of messages. The first carries the device attributes
// and the first peers; later ones carry only more peers. A peer whose allowed IPs do not fit is
// continued in the next message as a nest with only PUBLIC_KEY and ALLOWEDIPS, so adjacent
// peers with the same public key are coalesced, as wireguard-tools' coalesce_peers does.

import type { AllowedIP, Device, Peer } from '../../model/index.js';
import { keysEqual, newDevice, newPeer } from '../../model/index.js';
import { type Attr, getStr, getU16, getU32, getU64, HOST_LE, parseAttrs } from './attrs.js';
import {
  AF_INET,
  AF_INET6,
  EBADMSG,
  GENL_HDRLEN,
  KERNEL_TIMESPEC_LEN,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  WG_CMD_GET_DEVICE,
  WG_GENL_VERSION,
  WG_KEY_LEN,
  WGALLOWEDIP_A_CIDR_MASK,
  WGALLOWEDIP_A_FAMILY,
  WGALLOWEDIP_A_IPADDR,
  WGDEVICE_A_FWMARK,
  WGDEVICE_A_IFINDEX,
  WGDEVICE_A_IFNAME,
  WGDEVICE_A_LISTEN_PORT,
  WGDEVICE_A_PEERS,
  WGDEVICE_A_PRIVATE_KEY,
  WGDEVICE_A_PUBLIC_KEY,
  WGPEER_A_ALLOWEDIPS,
  WGPEER_A_ENDPOINT,
  WGPEER_A_LAST_HANDSHAKE_TIME,
  WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
  WGPEER_A_PRESHARED_KEY,
  WGPEER_A_PROTOCOL_VERSION,
  WGPEER_A_PUBLIC_KEY,
  WGPEER_A_RX_BYTES,
  WGPEER_A_TX_BYTES,
} from './constants.js';
import { NetlinkError } from './errors.js';
import { genlMessage } from './family.js';
import type { Message } from './messages.js';
import { decodeSockAddr, type ScopeNames } from './sockaddr.js';

export function encodeGetDevice(familyId: number, ifname: string) {
  return genlMessage(
    familyId,
    WG_CMD_GET_DEVICE,
    WG_GENL_VERSION,
    NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
    256,
  ).putStrz(WGDEVICE_A_IFNAME, ifname);
}

function key(a: Attr): Uint8Array | undefined {
  return a.data.length === WG_KEY_LEN ? a.data.slice() : undefined;
}

/** Collects the messages of one GET_DEVICE dump; `device()` returns the coalesced result. */
export class DeviceDump {
  private readonly dev: Device = newDevice();
  private readonly scopes: ScopeNames;

  constructor(scopes: ScopeNames) {
    this.scopes = scopes;
  }

  add(msg: Message): void {
    for (const a of parseAttrs(msg.payload, GENL_HDRLEN)) {
      switch (a.type) {
        case WGDEVICE_A_IFINDEX:
          this.dev.ifindex = getU32(a, 'WGDEVICE_A_IFINDEX');
          break;
        case WGDEVICE_A_IFNAME:
          this.dev.name = getStr(a);
          break;
        case WGDEVICE_A_PRIVATE_KEY:
          this.dev.privateKey = key(a) ?? this.dev.privateKey;
          break;
        case WGDEVICE_A_PUBLIC_KEY:
          this.dev.publicKey = key(a) ?? this.dev.publicKey;
          break;
        case WGDEVICE_A_LISTEN_PORT:
          this.dev.listenPort = getU16(a, 'WGDEVICE_A_LISTEN_PORT');
          break;
        case WGDEVICE_A_FWMARK:
          this.dev.fwmark = getU32(a, 'WGDEVICE_A_FWMARK');
          break;
        case WGDEVICE_A_PEERS:
          for (const p of parseAttrs(a.data)) this.dev.peers.push(this.peer(p.data));
          break;
      }
    }
  }

  /** The device with continued peers merged (wireguard-tools' coalesce_peers). */
  device(): Device {
    return { ...this.dev, peers: coalescePeers(this.dev.peers) };
  }

  private peer(data: Uint8Array): Peer {
    const peer = newPeer();
    for (const a of parseAttrs(data)) {
      switch (a.type) {
        case WGPEER_A_PUBLIC_KEY:
          peer.publicKey = key(a) ?? peer.publicKey;
          break;
        case WGPEER_A_PRESHARED_KEY: {
          // All zeros means "none"; like wg, a read-back device then has no key at all.
          const k = key(a);
          if (k?.some((b) => b !== 0)) peer.presharedKey = k;
          break;
        }
        case WGPEER_A_ENDPOINT: {
          const addr = decodeSockAddr(a.data, this.scopes);
          if (addr) peer.endpoints = [{ addr }];
          break;
        }
        case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
          peer.persistentKeepalive = getU16(a, 'WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL');
          break;
        case WGPEER_A_LAST_HANDSHAKE_TIME:
          if (a.data.length === KERNEL_TIMESPEC_LEN) {
            const v = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
            peer.lastHandshake = { sec: v.getBigInt64(0, HOST_LE), nsec: Number(v.getBigInt64(8, HOST_LE)) };
          }
          break;
        case WGPEER_A_RX_BYTES:
          peer.rxBytes = getU64(a, 'WGPEER_A_RX_BYTES');
          break;
        case WGPEER_A_TX_BYTES:
          peer.txBytes = getU64(a, 'WGPEER_A_TX_BYTES');
          break;
        case WGPEER_A_PROTOCOL_VERSION:
          peer.protocolVersion = getU32(a, 'WGPEER_A_PROTOCOL_VERSION');
          break;
        case WGPEER_A_ALLOWEDIPS:
          allowedIPs(a.data, peer.allowedIPs);
          break;
      }
    }
    if (!peer.publicKey) throw new NetlinkError(EBADMSG, 'kernel reported a peer without a public key');
    return peer;
  }
}

/**
 * The allowed IPs of one WGPEER_A_ALLOWEDIPS nest. Written as one loop over the bytes rather
 * than with parseAttrs: a large device has hundreds of thousands of them.
 */
function allowedIPs(d: Uint8Array, out: AllowedIP[]): void {
  const u16 = (at: number) => (HOST_LE ? d[at]! | (d[at + 1]! << 8) : (d[at]! << 8) | d[at + 1]!);
  for (let nest = 0; nest + NLA_HDRLEN <= d.length; ) {
    const end = nest + u16(nest);
    if (end < nest + NLA_HDRLEN || end > d.length)
      throw new NetlinkError(EBADMSG, 'malformed allowed IP nest');
    let family = 0;
    let address: Uint8Array | undefined;
    let cidr = -1;
    for (let at = nest + NLA_HDRLEN; at + NLA_HDRLEN <= end; ) {
      const len = u16(at);
      const type = u16(at + 2) & NLA_TYPE_MASK;
      if (len < NLA_HDRLEN || at + len > end)
        throw new NetlinkError(EBADMSG, 'malformed allowed IP attribute');
      if (type === WGALLOWEDIP_A_FAMILY && len === NLA_HDRLEN + 2) family = u16(at + NLA_HDRLEN);
      else if (type === WGALLOWEDIP_A_IPADDR) address = d.slice(at + NLA_HDRLEN, at + len);
      else if (type === WGALLOWEDIP_A_CIDR_MASK && len === NLA_HDRLEN + 1) cidr = d[at + NLA_HDRLEN]!;
      at += (len + 3) & ~3;
    }
    // wg rejects the same: an unknown family or a prefix longer than the address.
    if (family === AF_INET && address?.length === 4 && cidr >= 0 && cidr <= 32) {
      out.push({ family: 4, address, cidr });
    } else if (family === AF_INET6 && address?.length === 16 && cidr >= 0 && cidr <= 128) {
      out.push({ family: 6, address, cidr });
    } else throw new NetlinkError(EBADMSG, 'kernel reported a malformed allowed IP');
    nest = (end + 3) & ~3;
  }
}

/**
 * Merges each peer into the one before it when both have the same public key: the later one
 * is a continuation that adds allowed IPs only (its other attributes are ignored, as in wg).
 */
export function coalescePeers(peers: Peer[]): Peer[] {
  const out: Peer[] = [];
  for (const p of peers) {
    const last = out[out.length - 1];
    if (last?.publicKey && p.publicKey && keysEqual(last.publicKey, p.publicKey)) {
      for (const ip of p.allowedIPs) last.allowedIPs.push(ip);
    } else {
      out.push(p);
    }
  }
  return out;
}
