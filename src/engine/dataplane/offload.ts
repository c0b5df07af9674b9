// Which offloads the data plane uses: the TUN's (IFF_VNET_HDR with TSO/USO, sys/tun-offload.ts;
// split on transmit by gso.ts, merged on receive by gro.ts) and the UDP socket's (UDP_SEGMENT
// on send, UDP_GRO on receive, sys/udp-gso.ts). Both are on unless the data plane is started
// with `offload: false` or the environment says WGM_OFFLOAD=off (tests and benches compare the
// two paths); each falls back on its own to the plain path when the kernel refuses it, and
// `OffloadInfo.note` says so in one line for the verbose log.

import { TunDevice } from '../../sys/tun.js';
import {
  offloadNames,
  openOffloadTun,
  TUN_F_USO4,
  TUN_F_USO6,
  TUN_OFFLOADS_ALL,
} from '../../sys/tun-offload.js';

/** What the TUN was opened with (workers get it in their WorkerInit). */
export interface OffloadInfo {
  /** Packets on the TUN carry a virtio_net_hdr. */
  vnetHdr: boolean;
  /** The TUN_F_* flags granted. */
  tunOffloads: number;
  /** UDP super-packets from the TUN (USO4/6), so the receive side may merge UDP too. */
  uso: boolean;
  /** Whether the workers try UDP_SEGMENT and UDP_GRO on their sockets. */
  udp: boolean;
  /** One line for the verbose log: what is in use, and what the kernel refused. */
  note: string;
}

/**
 * An engine feature switch in the environment (WGM_OFFLOAD here, WGM_MIRROR in device.ts):
 * off, 0, no or false (any case) turn it off; anything else, or nothing, leaves it on.
 */
export function switchedOn(env: NodeJS.ProcessEnv, name: string): boolean {
  const v = (env[name] ?? '').trim().toLowerCase();
  return !['off', '0', 'no', 'false'].includes(v);
}

/** WGM_OFFLOAD=off (or 0, no, false) turns every offload off; anything else leaves them on. */
export function offloadFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return switchedOn(env, 'WGM_OFFLOAD');
}

/**
 * Opens TUN interface `name` with `queues` queues: with IFF_VNET_HDR and as many offloads as
 * the kernel grants when `offload` is true, a plain TUN otherwise (or when the kernel grants
 * nothing useful: without TSO a virtio header only costs a copy).
 */
export function openEngineTun(
  name: string,
  queues: number,
  offload: boolean,
): { tun: TunDevice; info: OffloadInfo } {
  const plain = (udp: boolean, note: string) => ({
    tun: TunDevice.open(name, queues),
    info: { vnetHdr: false, tunOffloads: 0, uso: false, udp, note },
  });
  if (!offload) return plain(false, 'Offloads off (WGM_OFFLOAD=off)');
  let opened: ReturnType<typeof openOffloadTun>;
  try {
    opened = openOffloadTun(name, queues, TUN_OFFLOADS_ALL);
  } catch (e) {
    // Whatever refused the header or the offloads, a plain TUN may still open; if it does
    // not either, its own error is the one to report.
    const why = e instanceof Error ? e.message : String(e);
    return plain(true, `TUN offloads failed (${why}): plain TUN`);
  }
  const { tun, state } = opened;
  const granted = offloadNames(state.offloads);
  const refused = offloadNames(state.refused);
  const tso = state.vnetHdr && granted.some((n) => n === 'tso4' || n === 'tso6');
  if (state.vnetHdr && !tso) {
    // Checksum offload alone: not worth a header on every packet. Open it plain.
    tun.close();
    return plain(
      true,
      `TUN offloads unavailable (kernel refused ${refused.join(', ') || 'TSO'}): plain TUN, one packet per read`,
    );
  }
  const uso = (state.offloads & (TUN_F_USO4 | TUN_F_USO6)) !== 0;
  const note = state.vnetHdr
    ? `TUN offloads: ${granted.join(', ')}${refused.length ? ` (kernel refused ${refused.join(', ')})` : ''}`
    : 'TUN offloads unavailable (no IFF_VNET_HDR): plain TUN, one packet per read';
  return { tun, info: { vnetHdr: state.vnetHdr, tunOffloads: state.offloads, uso, udp: true, note } };
}
