// Numbers of the netlink, generic netlink, rtnetlink and WireGuard interfaces, named as in the
// Linux UAPI headers (linux/netlink.h, linux/genetlink.h, linux/rtnetlink.h, linux/if_link.h,
// linux/wireguard.h). All integers inside messages are in host byte
// order, except ports and addresses inside sockaddr structures.

// --- linux/netlink.h ---
export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
/** Messages and attributes are padded to 4 bytes. */
export const NLA_ALIGNTO = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
/** Types below this are control messages. */
export const NLMSG_MIN_TYPE = 0x10;

export const NLA_F_NESTED = 1 << 15;
export const NLA_F_NET_BYTEORDER = 1 << 14;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

// --- linux/genetlink.h ---
export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
/** Version field wireguard-tools sends with CTRL_CMD_GETFAMILY. */
export const CTRL_VERSION = 1;

// --- linux/rtnetlink.h, linux/if_link.h ---
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
/** struct ifinfomsg: family u8, pad u8, type u16, index s32, flags u32, change u32. */
export const IFINFOMSG_LEN = 16;
export const IFLA_IFNAME = 3;
export const IFLA_LINKINFO = 18;
export const IFLA_INFO_KIND = 1;

// --- linux/socket.h, linux/if.h ---
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IFNAMSIZ = 16;

// --- linux/wireguard.h ---
export const WG_GENL_NAME = 'wireguard';
export const WG_GENL_VERSION = 1;
export const WG_KEY_LEN = 32;

export const WG_CMD_GET_DEVICE = 0;
export const WG_CMD_SET_DEVICE = 1;

export const WGDEVICE_F_REPLACE_PEERS = 1 << 0;

export const WGDEVICE_A_IFINDEX = 1;
export const WGDEVICE_A_IFNAME = 2;
export const WGDEVICE_A_PRIVATE_KEY = 3;
export const WGDEVICE_A_PUBLIC_KEY = 4;
export const WGDEVICE_A_FLAGS = 5;
export const WGDEVICE_A_LISTEN_PORT = 6;
export const WGDEVICE_A_FWMARK = 7;
export const WGDEVICE_A_PEERS = 8;

export const WGPEER_F_REMOVE_ME = 1 << 0;
export const WGPEER_F_REPLACE_ALLOWEDIPS = 1 << 1;
export const WGPEER_F_UPDATE_ONLY = 1 << 2;

export const WGPEER_A_PUBLIC_KEY = 1;
export const WGPEER_A_PRESHARED_KEY = 2;
export const WGPEER_A_FLAGS = 3;
export const WGPEER_A_ENDPOINT = 4;
export const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL = 5;
export const WGPEER_A_LAST_HANDSHAKE_TIME = 6;
export const WGPEER_A_RX_BYTES = 7;
export const WGPEER_A_TX_BYTES = 8;
export const WGPEER_A_ALLOWEDIPS = 9;
export const WGPEER_A_PROTOCOL_VERSION = 10;

export const WGALLOWEDIP_F_REMOVE_ME = 1 << 0;

export const WGALLOWEDIP_A_FAMILY = 1;
export const WGALLOWEDIP_A_IPADDR = 2;
export const WGALLOWEDIP_A_CIDR_MASK = 3;
export const WGALLOWEDIP_A_FLAGS = 4;

// --- sizes of the structures carried in WGPEER_A_ENDPOINT / LAST_HANDSHAKE_TIME ---
export const SOCKADDR_LEN = 16;
export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;
export const KERNEL_TIMESPEC_LEN = 16;

// --- errno values (asm-generic/errno.h) the netlink backend produces itself ---
export const EINTR = 4;
export const EINVAL = 22;
export const ENOENT = 2;
export const EMSGSIZE = 90;
export const EPROTONOSUPPORT = 93;
export const ENAMETOOLONG = 36;
export const EBADMSG = 74;

// --- tuning knobs (not protocol constants) ---
/**
 * Size of each SET message, as wg chooses it: min(page size, 8192), which is 4096 on x86-64.
 * The kernel accepts much larger requests; keeping wg's size keeps wg's splitting.
 */
export const SET_MESSAGE_SIZE = 4096;
/**
 * Receive buffer. The kernel sizes dump messages after the largest buffer a reader has offered
 * (capped near 32 KiB), so a larger buffer means fewer messages; wg offers min(page, 8192).
 */
export const RECV_BUFFER_SIZE = 32768;
/** A dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is restarted at most this often. */
export const DUMP_RESTARTS_MAX = 64;
