// Listing kernel WireGuard interfaces the way wg does (wireguard-tools ipc-linux.h, kernel_get_wireguard_interfaces): an rtnetlink
// RTM_GETLINK dump for all families, keeping the links whose IFLA_LINKINFO/IFLA_INFO_KIND is
// "wireguard", in dump order.

import { getStr, HOST_LE, MessageBuilder, parseAttrs } from './attrs.js';
import {
  AF_UNSPEC,
  IFINFOMSG_LEN,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  RTM_GETLINK,
  RTM_NEWLINK,
  WG_GENL_NAME,
} from './constants.js';
import type { Message } from './messages.js';

export function encodeGetLinks(): MessageBuilder {
  const ifinfomsg = new Uint8Array(IFINFOMSG_LEN);
  ifinfomsg[0] = AF_UNSPEC;
  return new MessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, 64).extraHeader(ifinfomsg);
}

export interface Link {
  ifindex: number;
  name?: string;
  kind?: string;
}

/** One RTM_NEWLINK message of the dump (other message types: undefined). */
export function decodeLink(msg: Message): Link | undefined {
  if (msg.type !== RTM_NEWLINK || msg.payload.length < IFINFOMSG_LEN) return undefined;
  const link: Link = {
    ifindex: new DataView(msg.payload.buffer, msg.payload.byteOffset + 4, 4).getInt32(0, HOST_LE),
  };
  for (const a of parseAttrs(msg.payload, IFINFOMSG_LEN)) {
    if (a.type === IFLA_IFNAME) link.name = getStr(a);
    else if (a.type === IFLA_LINKINFO) {
      for (const info of parseAttrs(a.data)) if (info.type === IFLA_INFO_KIND) link.kind = getStr(info);
    }
  }
  return link;
}

export function isWireGuardLink(link: Link): link is Link & { name: string } {
  return link.kind === WG_GENL_NAME && link.name !== undefined;
}
