// The one backend facade, like wireguard-tools' ipc.c: for each interface name, a live UAPI
// socket wins, otherwise the kernel (ipc_get_device). The kernel half lives in ./netlink/ and is
// loaded on demand; a build without it, or a host without the wireguard genetlink family, is
// "no kernel WireGuard" and answers EPROTONOSUPPORT (`Protocol not supported`), as wg does.

import type { Device } from '../model/index.js';
import { CAPABILITY_ENDPOINT_NAMES, CAPABILITY_MULTI_ENDPOINT } from '../uapi/get.js';
import { CAPABILITY_MONITOR } from '../uapi/monitor.js';
import { listUserspace } from './list.js';
import { backendError, uapiGet, uapiSet } from './uapi.js';

export interface Capabilities {
  kind: 'kernel' | 'uapi';
  /** 'wgm-engine/<ver>' when the daemon says so; undefined for daemons that do not identify themselves. */
  implementation?: string;
  /** Can hold several endpoints per peer (wgm-engine advertises it). */
  multiEndpoint: boolean;
  /** Takes endpoints by name and resolves them itself (wgm-engine advertises it); set only when true. */
  endpointNames?: boolean;
  /** Streams path events (`wgm_monitor`; wgm-engine advertises it); set only when true. */
  monitor?: boolean;
}

/** What src/backend/netlink/index.ts exports (backend-api.md). */
export interface KernelApi {
  kernelStatus(): Promise<{ available: boolean; reason?: string }>;
  kernelList(): Promise<string[]>;
  kernelGet(name: string): Promise<Device>;
  kernelSet(name: string, change: Device): Promise<void>;
}

export const EPROTONOSUPPORT = 93;
/** IFNAMSIZ - 1: wg copies names into a 16-byte buffer. */
const IFNAME_MAX = 15;

export type KernelLoad = { api: KernelApi } | { api: undefined; reason: string };

let kernelLoad: Promise<KernelLoad> | undefined;

/** The kernel module of this build, or why there is none. */
export function loadKernel(): Promise<KernelLoad> {
  if (!kernelLoad) {
    // A computed specifier: the module may not exist in this build, and that must not be a type error.
    const spec = './netlink/index.js';
    kernelLoad = import(spec).then(
      (m: KernelApi) => ({ api: m }),
      (e: NodeJS.ErrnoException) => ({
        api: undefined,
        reason:
          e.code === 'ERR_MODULE_NOT_FOUND'
            ? 'this build of wgm has no kernel (netlink) backend'
            : `the kernel backend failed to load: ${e.message}`,
      }),
    );
  }
  return kernelLoad;
}

/** Replaces the kernel module (tests). */
export function setKernelForTesting(api: KernelApi | undefined, reason = 'disabled for testing'): void {
  kernelLoad = Promise.resolve(api ? { api } : { api: undefined, reason });
}

async function kernel(name: string): Promise<KernelApi> {
  const k = await loadKernel();
  if (!k.api) throw backendError(EPROTONOSUPPORT, name, 'kernel');
  return k.api;
}

/** The name as wg's C model holds it: at most 15 bytes. */
export function wgName(name: string): string {
  const b = Buffer.from(name);
  return b.length > IFNAME_MAX ? b.subarray(0, IFNAME_MAX).toString() : name;
}

/** Kernel WireGuard links (ifindex order), then userspace sockets in raw readdir order. */
export async function listDevices(): Promise<string[]> {
  const k = await loadKernel();
  // Like wg, links are listed by kind over rtnetlink, whether or not the genetlink family resolves.
  const kernelNames = k.api ? await k.api.kernelList() : [];
  return [...kernelNames, ...(await listUserspace())];
}

/** Reads a device: name, keys (public derived for UAPI), peers in backend order. */
export async function getDevice(name: string): Promise<Device> {
  const r = await uapiGet(name);
  if (r !== 'not-userspace') {
    r.device.name = wgName(name);
    return r.device;
  }
  return (await kernel(name)).kernelGet(name);
}

/**
 * Applies a change. Like wg, the name is cut to 15 bytes first (for the socket too). Several
 * endpoints on one peer need a backend that holds them (see capabilities); otherwise this throws
 * WgError('capability') before anything is sent.
 */
export async function setDevice(name: string, change: Device): Promise<void> {
  const ifname = wgName(name);
  let multi = false;
  let names = false;
  const named = (p: Device['peers'][number]) => p.endpoints.some((e) => !e.addr && e.name);
  const knobs = (p: Device['peers'][number]) => p.policy !== undefined || p.roaming !== undefined;
  if (change.peers.some((p) => !p.remove && (p.endpoints.length > 1 || named(p) || knobs(p)))) {
    const caps = await capabilities(ifname);
    multi = caps.multiEndpoint;
    names = caps.endpointNames === true;
  }
  const r = await uapiSet(ifname, change, multi, names);
  if (r !== 'not-userspace') return;
  await (await kernel(ifname)).kernelSet(ifname, change);
}

/** What the backend behind NAME is and what it can hold (one get; throws like getDevice). */
export async function capabilities(name: string): Promise<Capabilities> {
  const r = await uapiGet(name);
  if (r !== 'not-userspace') {
    const caps: Capabilities = {
      kind: 'uapi',
      multiEndpoint: r.ext.capabilities.includes(CAPABILITY_MULTI_ENDPOINT),
    };
    if (r.ext.implementation !== undefined) caps.implementation = r.ext.implementation;
    if (caps.multiEndpoint && r.ext.capabilities.includes(CAPABILITY_ENDPOINT_NAMES))
      caps.endpointNames = true;
    if (r.ext.capabilities.includes(CAPABILITY_MONITOR)) caps.monitor = true;
    return caps;
  }
  await (await kernel(name)).kernelGet(name);
  return { kind: 'kernel', multiEndpoint: false };
}
