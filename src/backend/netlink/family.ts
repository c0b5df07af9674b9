// Resolving a generic netlink family name to its id (CTRL_CMD_GETFAMILY on GENL_ID_CTRL), as
// wireguard-tools' mnlg_socket_open does. A missing family means no kernel WireGuard: the
// controller answers ENOENT, which wg reports as EPROTONOSUPPORT.

import { getU16, MessageBuilder, parseAttrs } from './attrs.js';
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  CTRL_VERSION,
  EBADMSG,
  ENOENT,
  EPROTONOSUPPORT,
  GENL_HDRLEN,
  GENL_ID_CTRL,
  NLM_F_ACK,
  NLM_F_REQUEST,
} from './constants.js';
import { NetlinkError } from './errors.js';
import type { Message } from './messages.js';
import type { Connection } from './transport.js';

/** struct genlmsghdr { u8 cmd; u8 version; u16 reserved; } */
export function genlHeader(cmd: number, version: number): Uint8Array {
  return Uint8Array.of(cmd, version, 0, 0);
}

/** A generic netlink message for family `id`, command `cmd`. */
export function genlMessage(id: number, cmd: number, version: number, flags: number, capacity: number) {
  return new MessageBuilder(id, flags, capacity).extraHeader(genlHeader(cmd, version));
}

export function encodeGetFamily(name: string): MessageBuilder {
  return genlMessage(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_VERSION, NLM_F_REQUEST | NLM_F_ACK, 256).putStrz(
    CTRL_ATTR_FAMILY_NAME,
    name,
  );
}

/** The family id in a CTRL_CMD_NEWFAMILY reply. */
export function decodeFamilyId(msg: Message): number {
  for (const a of parseAttrs(msg.payload, GENL_HDRLEN)) {
    if (a.type === CTRL_ATTR_FAMILY_ID) return getU16(a, 'CTRL_ATTR_FAMILY_ID');
  }
  throw new NetlinkError(EBADMSG, 'generic netlink controller reply without a family id');
}

/** The id of family `name` on connection `c` (a NETLINK_GENERIC socket). */
export function resolveFamily(c: Connection, name: string): number {
  let id: number | undefined;
  try {
    c.request(encodeGetFamily(name), (m) => {
      id = decodeFamilyId(m);
    });
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === ENOENT) {
      throw new NetlinkError(EPROTONOSUPPORT, `generic netlink family '${name}' is not registered`);
    }
    throw e;
  }
  if (id === undefined)
    throw new NetlinkError(EBADMSG, `no reply resolving generic netlink family '${name}'`);
  return id;
}
