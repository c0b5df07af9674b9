// A handshake load generator for test/bench/engine.ts: PEERS initiators (real Cores, each with
// its own identity) against one responder daemon, for SECONDS seconds. Each initiator sends an
// initiation, waits for the response (or a cookie reply, which its core takes and uses in the
// next try), and starts again once answered: at once after a cookie reply, and
// HANDSHAKE_INITIATION_RATE (20 ms) after a completed handshake, the least a responder
// accepts between two initiations of one peer (sooner is a flood, dropped without an answer,
// which left the initiator waiting for its one-second retry: a faster responder then measured
// slower). Prints one JSON line: { handshakes, seconds, cpu, cookies, retries } (cpu: this
// process's CPU seconds, startup included; cookies: cookie replies received, i.e. the responder
// was under load; retries: initiations sent again after RETRY_MS without an answer).
//
//   node engine-handshake-client.js <target-ip> <target-port> <responder-pubkey-b64> <keys-file> <seconds> [sources]
// keys-file: one base64 private key per line (the responder knows their public keys); sources:
// comma-separated local addresses, initiator i sending from sources[i % n] (responders limit
// handshakes per source address under load, so one address would measure that limit only).

import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { HANDSHAKE_INITIATION_RATE_MS } from '../../src/engine/core/constants.js';
import { Core } from '../../src/engine/core/core.js';
import { MESSAGE_COOKIE_REPLY } from '../../src/engine/core/messages.js';
import { newDevice, newPeer, type SockAddr } from '../../src/model/index.js';
import { hostAddr } from '../lib/path-addr.js';

const [host, portText, responderB64, keysFile, secondsText, sourcesText] = process.argv.slice(2);
const sources = sourcesText ? sourcesText.split(',') : [];
const port = Number(portText);
const seconds = Number(secondsText);
const target: SockAddr = { family: host!.includes(':') ? 6 : 4, address: host!, port };
const responder = Buffer.from(responderB64!, 'base64');
const keys = readFileSync(keysFile!, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((k) => Buffer.from(k, 'base64'));

const t0 = performance.now();
const now = () => performance.now() - t0;
const wallEpochNs = BigInt(Date.now()) * 1_000_000n;

interface Initiator {
  core: Core;
  sock: ReturnType<typeof createSocket>;
  sentAt: number;
}

let handshakes = 0;
/** Cookie replies received: the responder was under load. */
let cookies = 0;
/** Initiations sent again after RETRY_MS without an answer (dropped or too slow). */
let retries = 0;
let running = true;
const initiators: Initiator[] = [];

/** After a completed handshake: HANDSHAKE_INITIATION_RATE and a margin for timer slack. */
const NEXT_AFTER_MS = HANDSHAKE_INITIATION_RATE_MS + 5;

function fire(i: Initiator, retry = false): void {
  if (!running) return;
  if (retry) retries++;
  i.sentAt = now();
  for (const a of i.core.initiate(responder, i.sentAt, { force: true }))
    if (a.type === 'send') i.sock.send(a.bytes, target.port, target.address);
}

for (const priv of keys) {
  const core = new Core({ wallEpochNs });
  const device = newDevice({
    privateKey: priv,
    peers: [newPeer({ publicKey: responder, endpoints: [{ addr: hostAddr(target.address, target.port) }] })],
  });
  core.configure(device, now());
  const sock = createSocket(target.family === 6 ? 'udp6' : 'udp4');
  const me: Initiator = { core, sock, sentAt: 0 };
  sock.on('message', (msg, rinfo) => {
    const from = hostAddr(rinfo.address, rinfo.port);
    if (msg[0] === MESSAGE_COOKIE_REPLY) cookies++;
    const actions = core.datagram(from, msg, now());
    if (actions.some((a) => a.type === 'keypairChanged' && a.keypairs.current)) {
      handshakes++;
      // Consumed: the responder takes the next initiation of this peer only
      // HANDSHAKE_INITIATION_RATE after this one (a flood otherwise, dropped without an
      // answer), so wait that long, as a real initiator would.
      setTimeout(() => fire(me), NEXT_AFTER_MS);
    } else fire(me); // a cookie reply: this initiation was not consumed, go again at once
  });
  initiators.push(me);
}

await Promise.all(
  initiators.map(
    (i, n) =>
      new Promise<void>((r) => i.sock.bind(0, sources.length ? sources[n % sources.length] : undefined, r)),
  ),
);
for (const i of initiators) fire(i);
// Unanswered initiations (dropped under load) are sent again after RETRY_MS.
const RETRY_MS = 1000;
const retry = setInterval(() => {
  for (const i of initiators) if (now() - i.sentAt > RETRY_MS) fire(i, true);
}, 100);
await new Promise((r) => setTimeout(r, seconds * 1000));
running = false;
clearInterval(retry);
const elapsed = now() / 1000;
for (const i of initiators) i.sock.close();
// The client's own CPU seconds: when they approach `seconds`, the client, not the responder,
// sets the rate.
const { user, system } = process.cpuUsage();
console.log(JSON.stringify({ handshakes, seconds: elapsed, cpu: (user + system) / 1e6, cookies, retries }));
