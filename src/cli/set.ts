// wgm set: wireguard-tools src/set.c, set_main, and src/config.c, config_read_cmd. The words are
// read left to right exactly as wg reads them: device options only before the first `peer`, last
// one wins, allowed-ips accumulate and replace, `remove`, key files, and `Invalid argument: <word>`
// for anything out of place. Every value is parsed, every key file read and every endpoint resolved
// before the device is touched.
//
// Extension: several `endpoint` options after one `peer` are kept as candidate endpoints, in
// order (wg keeps the last). See capability-check.ts for how that meets single-endpoint backends.

import { capabilities, setDevice, wgName } from '../backend/backend.js';
import { resolveEndpoint } from '../config/resolve.js';
import {
  parseAllowedIPs,
  parseFwmark,
  parseKeepalive,
  parseKey,
  parsePort,
  readKeyFile,
} from '../config/values.js';
import { WgError } from '../model/errors.js';
import { type Device, newDevice, newPeer, type Peer } from '../model/index.js';
import { ensureBackendCanHold } from './capability-check.js';
import { wipeSecrets, wrapBackend } from './conf-apply.js';
import type { Ctx } from './context.js';

function usage(prog: string): string {
  return (
    `Usage: ${prog} set <interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] ` +
    '[peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] ' +
    '[persistent-keepalive <interval seconds>] [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] ]...\n'
  );
}

/** C isspace() in the "C" locale: what wg removes from an `allowed-ips` argument. */
const C_SPACE = /[ \t\n\v\f\r]/g;

export interface SetIO {
  env: NodeJS.ProcessEnv;
  /** Warnings and resolver retry lines, as wg prints them while parsing. */
  err(text: string): void;
  /** Injected by tests so that resolver retries need not wait. */
  sleep?: (ms: number) => Promise<void>;
}

function invalid(word: string): WgError {
  return new WgError('usage', `Invalid argument: ${word}`);
}

/** The words after `<interface>`, as a change to send. Throws WgError with wg's message. */
export async function parseSetArgs(words: readonly string[], io: SetIO): Promise<Device> {
  const device = newDevice();
  try {
    await readWords(words, device, io);
  } catch (e) {
    wipeSecrets(device);
    throw e;
  }
  return device;
}

async function readWords(words: readonly string[], device: Device, io: SetIO): Promise<void> {
  let peer: Peer | undefined;
  let i = 0;
  while (i < words.length) {
    const word = words[i]!;
    const hasValue = i + 1 < words.length;
    const value = words[i + 1] ?? '';
    if (word === 'listen-port' && hasValue && !peer) {
      device.listenPort = parsePort(value);
    } else if (word === 'fwmark' && hasValue && !peer) {
      device.fwmark = parseFwmark(value);
    } else if (word === 'private-key' && hasValue && !peer) {
      device.privateKey = readKeyFile(value);
    } else if (word === 'peer' && hasValue) {
      // Every `peer` starts its own block, as in wg: `peer K endpoint A peer K endpoint B` is two
      // one-endpoint changes (B wins, as with wg), not one peer with two candidates.
      peer = newPeer();
      device.peers.push(peer);
      peer.publicKey = parseKey(value);
    } else if (word === 'remove' && peer) {
      peer.remove = true;
      i += 1;
      continue;
    } else if (word === 'endpoint' && hasValue && peer) {
      const addr = await resolveEndpoint(value, resolverOptions(io));
      peer.endpoints.push({ spec: value, addr });
    } else if (word === 'allowed-ips' && hasValue && peer) {
      const list = value.replace(C_SPACE, '');
      peer.replaceAllowedIPs = true;
      if (list !== '') {
        // Warnings are printed as they occur: before an error later in the same list, as wg does.
        const { ips } = parseAllowedIPs(list, (w) => io.err(`${w}\n`));
        peer.allowedIPs.push(...ips);
      }
    } else if (word === 'persistent-keepalive' && hasValue && peer) {
      peer.persistentKeepalive = parseKeepalive(value);
    } else if (word === 'preshared-key' && hasValue && peer) {
      peer.presharedKey = readKeyFile(value);
    } else {
      throw invalid(word);
    }
    i += 2;
  }
}

function resolverOptions(io: SetIO) {
  return io.sleep ? { env: io.env, log: io.err, sleep: io.sleep } : { env: io.env, log: io.err };
}

export async function run(args: string[], ctx: Ctx): Promise<number> {
  if (args.length < 2) {
    ctx.err(usage(ctx.prog));
    return 1;
  }
  const iface = wgName(args[0]!);
  const change = await parseSetArgs(args.slice(1), { env: ctx.env, err: ctx.err });
  try {
    await ensureBackendCanHold(iface, change, {
      capabilities: (name) =>
        capabilities(name).catch((e: unknown) => wrapBackend('Unable to modify interface', e)),
      from: 'set',
    });
    await setDevice(iface, change).catch((e: unknown) => wrapBackend('Unable to modify interface', e));
  } finally {
    wipeSecrets(change);
  }
  return 0;
}
