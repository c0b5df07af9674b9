// Records a real exchange between wgm's Core and a stock wireguard-go, for replay offline.
//
//   node .build/NAME/test/interop/record-handshake.js [--responder] --out FILE
//
// (fixtures: test/fixtures/handshake/wireguard-go.json, and wireguard-go-initiates.json made
// with --responder, where wireguard-go initiates and the Core responds.)
//
// As root: a private network namespace with a wireguard-go interface (10.99.0.2/24) whose one
// peer is us (10.99.0.1/32). This script then runs itself inside that namespace (`--inner`),
// where a Core on a UDP socket on 127.0.0.1 either initiates a handshake to wireguard-go and
// confirms it with a keepalive, or (--responder) answers wireguard-go's initiation; either way
// it answers the ICMP echo request that `ping 10.99.0.1` sends through the tunnel. Every input to the Core and every output is recorded with its time, together with the
// Core's randomness and `wg show dump` of wireguard-go. The namespace, the interface and the
// daemon are removed afterwards. The keys are made for the recording and used nowhere else.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clampPrivateKey, keyToBase64 } from '../../src/crypto/keys.js';
import { randomBytes } from '../../src/crypto/random.js';
import { publicKeyOf } from '../../src/crypto/x25519.js';
import { pathFromText } from '../../src/engine/endpoint-text.js';
import {
  echoReply,
  type RecordedInput,
  type Recording,
  recordingConfig,
  recordingCore,
} from './record-handshake-replay.js';

const SELF = fileURLToPath(import.meta.url);
const PORT = 51820;
const OUR_IP = '10.99.0.1';
const THEIR_IP = '10.99.0.2';
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr?.toString() || r.error}`);
  return r.stdout.toString();
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface InnerArgs {
  mode: Recording['mode'];
  ifname: string;
  ourPrivateKey: string;
  theirPrivateKey: string;
  theirPublicKey: string;
  out: string;
}

/** Runs in the namespace: the Core on a real UDP socket against wireguard-go. */
async function inner(args: InnerArgs): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const t0 = performance.now();
  const now = () => Math.round((performance.now() - t0) * 1000) / 1000;
  const wallEpochNs = BigInt(Date.now()) * 1_000_000n;
  const random: Recording['random'] = [];
  const theirEndpoint = { family: 4 as const, address: '127.0.0.1', port: PORT };
  const inputs: RecordedInput[] = [];
  let answered = false;
  let timer: NodeJS.Timeout | undefined;
  const { core, dp, outputs, input } = recordingCore(
    { wallEpochNs: String(wallEpochNs), mtu: 1420 },
    (n) => {
      const b = randomBytes(n);
      random.push({ n, hex: toHex(b) });
      return b;
    },
    {
      onSend: (to, bytes) => sock.send(bytes, to.port, to.address),
      onTun: (p) => {
        const reply = echoReply(p);
        if (!reply || answered) return;
        answered = true;
        // Answered after the current input, as its own input.
        setImmediate(() => {
          const t = now();
          inputs.push({ kind: 'packetFromTun', at: t, hex: toHex(reply) });
          input(t, () => core.packetFromTun(reply, t));
        });
      },
      onAction: (a) => {
        if (a.type === 'log') process.stderr.write(`core ${a.level}: ${a.msg}\n`);
        else if (a.type === 'wakeAt') {
          clearTimeout(timer);
          timer = setTimeout(
            () => {
              const t = now();
              inputs.push({ kind: 'tick', at: t });
              input(t, () => core.tick(t));
            },
            Math.max(0, a.at - now()),
          );
        }
      },
    },
  );
  sock.on('message', (msg, rinfo) => {
    const t = now();
    const from = { family: 4 as const, address: rinfo.address, port: rinfo.port };
    inputs.push({ kind: 'datagram', at: t, from, hex: toHex(msg) });
    input(t, () => void dp.datagram(pathFromText(from), new Uint8Array(msg), t));
  });
  const base = { ...args, theirEndpoint, theirTunnelIP: THEIR_IP };
  let t = now();
  inputs.push({ kind: 'configure', at: t });
  input(t, () => core.configure(recordingConfig(base), t));
  if (args.mode === 'initiator') {
    t = now();
    inputs.push({ kind: 'initiate', at: t });
    input(t, () => core.initiate(Buffer.from(args.theirPublicKey, 'hex'), t));
    await waitFor(() => core.getDevice().peers[0]!.lastHandshake!.sec > 0n, 5000, 'the handshake');
    // Give wireguard-go the keepalive that confirms the session, then ping through the tunnel.
    await new Promise((r) => setTimeout(r, 100));
  } else {
    // wireguard-go learns where we are; the ping below makes it initiate.
    const ours = Buffer.from(publicKeyOf(Buffer.from(args.ourPrivateKey, 'hex'))).toString('base64');
    sh('wg', ['set', args.ifname, 'peer', ours, 'endpoint', `127.0.0.1:${sock.address().port}`]);
  }
  const ping = spawn('ping', ['-c', '1', '-W', '3', OUR_IP], { stdio: 'ignore' });
  const pingExitStatus = await new Promise<number | null>((r) => ping.on('exit', (code) => r(code)));
  clearTimeout(timer);
  sock.close();
  const dump = sh('wg', ['show', args.ifname, 'dump']);
  const recording: Recording = {
    source: `Recorded by test/interop/record-handshake.ts: wgm Core (${args.mode}) and a stock wireguard-go over UDP on 127.0.0.1 in a private network namespace.`,
    mode: args.mode,
    wireguardGo: sh('wireguard-go', ['--version']).split('\n')[0]!.trim(),
    ourPrivateKey: args.ourPrivateKey,
    theirPrivateKey: args.theirPrivateKey,
    theirPublicKey: args.theirPublicKey,
    theirEndpoint,
    ourTunnelIP: OUR_IP,
    theirTunnelIP: THEIR_IP,
    mtu: 1420,
    wallEpochNs: String(wallEpochNs),
    random,
    inputs,
    outputs,
    theirDump: dump.split('\n')[1] ?? '',
    pingExitStatus,
  };
  writeFileSync(args.out, `${JSON.stringify(recording, null, 2)}\n`);
}

/** Records one exchange (as root). Cleans up everything it made, also on failure. */
export async function recordHandshake(mode: Recording['mode'] = 'initiator'): Promise<Recording> {
  const tag = `core${process.pid % 100000}`;
  const ns = `${tag}-rec`;
  const ifname = `wg${tag}`;
  const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  let daemon: ChildProcess | undefined;
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    daemon = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifname], {
      stdio: 'ignore',
      env: { ...process.env, LOG_LEVEL: 'verbose' },
    });
    await waitFor(() => existsSync(`/var/run/wireguard/${ifname}.sock`), 5000, 'wireguard-go');
    const ours = clampPrivateKey(randomBytes(32));
    const theirs = clampPrivateKey(randomBytes(32));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, `${keyToBase64(theirs)}\n`, { mode: 0o600 });
    sh('ip', ['netns', 'exec', ns, 'wg', 'set', ifname, 'private-key', keyFile, 'listen-port', String(PORT)]);
    sh('ip', [
      'netns',
      'exec',
      ns,
      'wg',
      'set',
      ifname,
      'peer',
      keyToBase64(publicKeyOf(ours)),
      'allowed-ips',
      `${OUR_IP}/32`,
    ]);
    sh('ip', ['-n', ns, 'addr', 'add', `${THEIR_IP}/24`, 'dev', ifname]);
    sh('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
    const out = join(dir, 'recording.json');
    const args: InnerArgs = {
      mode,
      ifname,
      ourPrivateKey: toHex(ours),
      theirPrivateKey: toHex(theirs),
      theirPublicKey: toHex(publicKeyOf(theirs)),
      out,
    };
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns, process.execPath, SELF, '--inner', JSON.stringify(args)],
      {
        timeout: 30_000,
      },
    );
    if (r.status !== 0) throw new Error(`recording failed: ${r.stderr?.toString() || r.error}`);
    return JSON.parse(readFileSync(out, 'utf8')) as Recording;
  } finally {
    if (daemon?.pid !== undefined) {
      daemon.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
    }
    spawnSync('ip', ['-n', ns, 'link', 'del', ifname]);
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF) {
  const i = process.argv.indexOf('--inner');
  if (i > 0) await inner(JSON.parse(process.argv[i + 1]!) as InnerArgs);
  else {
    const o = process.argv.indexOf('--out');
    if (o < 0) {
      process.stderr.write('usage: record-handshake.js --out FILE   (as root)\n');
      process.exit(2);
    }
    const rec = await recordHandshake(process.argv.includes('--responder') ? 'responder' : 'initiator');
    writeFileSync(process.argv[o + 1]!, `${JSON.stringify(rec, null, 2)}\n`);
    process.stdout.write(
      `recorded ${rec.inputs.length} inputs, ${rec.outputs.length} outputs; ping ${rec.pingExitStatus}\n`,
    );
  }
}
