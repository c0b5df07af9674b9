// A real initiation flood against a running responder (a flood of initiations must
// trigger cookie replies, whitepaper 5.3, rather than exhaust the CPU), for wgm-engine and, as the oracle, stock
// wireguard-go, each in the same setup:
//
//   namespace R: the responder (configured with stock `wg`), one peer: the legitimate one
//   namespace F: the legitimate peer (stock wireguard-go, which implements cookies) at .2, and
//                the flooder (test/lib/flood.ts) sending from other addresses on the same link
//
// The flood's initiations carry a valid mac1 for the responder's public key (an attacker knows
// it) and garbage elsewhere: without cookies, each would cost the responder a DH.
//
//   blast   one source, as fast as the flooder can send. Cookie replies must come back (and
//           decrypt under the responder's cookie key: test/lib/flood.ts checks a sample); the
//           legitimate peer, whose first handshake starts during the flood, must complete it
//           (a cookie round, then its retry with mac2) and ping through the tunnel before the
//           flood ends (wgm-engine only: wireguard-go, with no per-source budget, drops the
//           legitimate peer's messages with the flood's once its queue is full, so whether it
//           gets through is luck there; it is printed); `wg show` must answer over the UAPI socket throughout. The daemon's CPU
//           time over the flood must be far below what one DH per datagram it received would
//           cost (the kernel's count of datagrams delivered to its socket; the cost of a DH
//           measured in this process while the flood runs, so both see the same machine load).
//           A daemon that ran a DH per message would receive only as many as it could handle
//           and fail this (the bound is half a DH each): a count, not a timing.
//   spread  SPREAD_SOURCES sources at a steady total rate that every one of them may send at
//           (wgm-engine only: wireguard-go goes under load only once its queue backs up, which a
//           fast machine may never do at this rate). Nearly every message must be answered with
//           a cookie reply, and a message answered so never reaches the DH.
//   again   the blast once more: peers and allowed IPs unchanged, the daemon alive, and its
//           resident memory not growing from one flood to the next (no per-message state kept).
//
// Numbers (rates, latencies, CPU) are printed as diagnostics.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { sharedSecret } from '../../src/crypto/x25519-native.js';
import type { FloodReport, FloodSpec } from '../lib/flood.js';
import { type Daemon, type Impl, keypair, Lab, sleep, snmp } from '../lib/netns.js';
import { cpuSeconds, rssKiB } from '../lib/proc.js';
import { BUILD, need } from '../lib/run.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping'] };
const FLOOD_JS = join(BUILD, 'test/lib/flood.js');
const PORT = 51820;
const BLAST_S = 12;
/** The legitimate ping starts this long into the blast, and waits at most PING_WAIT_S. */
const PING_AFTER_MS = 1000;
const PING_WAIT_S = 9;
const SHOW_EVERY_MS = 1000;
const SPREAD_SOURCES = 64;
const SPREAD_RATE = 6400;
const SPREAD_S = 8;
/**
 * A flood message may cost at most one DH on average (blast): a daemon that ran a DH for each
 * would spend that and more, so this still tells the two apart, with room for a loaded
 * machine's noise. The figure itself is printed as a diagnostic.
 */
const DH_FRACTION = 1;
/** DHs timed for the cost of one. */
const DH_ROUNDS = 300;
/** Of the spread's messages, at least this share must get a cookie reply. */
const SPREAD_COOKIE_SHARE = 0.9;
/** Resident memory may move this much from the first blast to the last (heap noise, not a leak). */
const RSS_SLACK_KIB = 48 * 1024;

interface Setup {
  lab: Lab;
  d: Daemon;
  r: string;
  f: string;
  pub: string;
  target: string;
  legitKey: string;
  /** Flood source addresses on F's link (the legitimate peer is .2, not among them). */
  sources: string[];
}

async function setup(lab: Lab, impl: Impl): Promise<Setup> {
  const r = lab.netns('r');
  const f = lab.netns('f');
  const v = lab.veth(r, f, 245);
  const sources: string[] = [];
  for (let i = 0; i < SPREAD_SOURCES; i++) {
    const a = `192.168.245.${10 + i}`;
    lab.ip(f, 'addr', 'add', `${a}/24`, 'dev', v.ifB);
    sources.push(a);
  }
  const [d, g] = await Promise.all([lab.daemon(impl, r), lab.daemon('wireguard-go', f)]);
  const kr = keypair();
  const kg = keypair();
  lab.wg(r, [
    'set',
    d.ifname,
    'private-key',
    lab.file('r.key', `${kr.priv}\n`),
    'listen-port',
    String(PORT),
    'peer',
    kg.pub,
    'allowed-ips',
    '10.245.0.2/32',
  ]);
  lab.wg(f, [
    'set',
    g.ifname,
    'private-key',
    lab.file('g.key', `${kg.priv}\n`),
    'peer',
    kr.pub,
    'allowed-ips',
    '10.245.0.1/32',
    'endpoint',
    `${v.v4[0]}:${PORT}`,
  ]);
  lab.ip(r, 'addr', 'add', '10.245.0.1/24', 'dev', d.ifname);
  lab.ip(r, 'link', 'set', d.ifname, 'up');
  lab.ip(f, 'addr', 'add', '10.245.0.2/24', 'dev', g.ifname);
  lab.ip(f, 'link', 'set', g.ifname, 'up');
  return { lab, d, r, f, pub: kr.pub, target: `${v.v4[0]}:${PORT}`, legitKey: kg.pub, sources };
}

/** Starts the flooder in F; `done` resolves with its report, `running()` until then. */
function startFlood(s: Setup, spec: Omit<FloodSpec, 'target' | 'publicKey'>) {
  const full: FloodSpec = { target: s.target, publicKey: s.pub, ...spec };
  const p = s.lab.spawn(s.f, process.execPath, [FLOOD_JS, JSON.stringify(full)]);
  let out = '';
  let err = '';
  let ended = false;
  p.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  p.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<FloodReport>((resolve, reject) =>
    p.once('close', (code) => {
      ended = true;
      if (code === 0) resolve(JSON.parse(out) as FloodReport);
      else reject(new Error(`flooder exited ${code}: ${err}`));
    }),
  );
  return { done, running: () => !ended };
}

/** One ping through the tunnel from F, waiting up to `waitS`; resolves true on a reply. */
function pingOnce(s: Setup, waitS: number): Promise<boolean> {
  const p = s.lab.spawn(s.f, 'ping', ['-n', '-c', '1', '-W', String(waitS), '10.245.0.1']);
  return new Promise((resolve) => p.once('exit', (code) => resolve(code === 0)));
}

/** `wg show IF dump` on the responder; its status and how long it took (ms). */
function show(s: Setup): { status: number | null; ms: number } {
  const t0 = performance.now();
  const r = s.lab.exec(s.r, 'wg', ['show', s.d.ifname, 'dump'], { timeoutMs: 20_000 });
  return { status: r.status, ms: Math.round(performance.now() - t0) };
}

/** What a flood must not change: the peers and their allowed IPs. */
function peersOf(s: Setup): string {
  return s.lab.wg(s.r, ['show', s.d.ifname, 'allowed-ips']);
}

function summary(r: FloodReport): string {
  return `sent ${r.sent} (${r.sentPerSec}/s), cookie replies ${r.cookies} (${r.cookiesPerSec}/s, ${r.cookiesVerified} of a sample decrypted), responses ${r.responses}`;
}

/** `legit`: whether the legitimate peer pings through the flood, and whether it must. */
async function blast(t: TestContext, s: Setup, legit: 'must' | 'try' | 'no'): Promise<void> {
  const pid = s.d.proc.pid!;
  const c0 = cpuSeconds(pid);
  const in0 = snmp(s.lab, s.r, 'Udp', 'InDatagrams');
  const flood = startFlood(s, { seconds: BLAST_S, sources: [s.sources[0]!] });
  await sleep(PING_AFTER_MS);
  const dh = dhCost(DH_ROUNDS); // while the flood runs
  const pinged = legit !== 'no' ? pingOnce(s, PING_WAIT_S) : undefined;
  let pingDone = false;
  const pingAt = pinged?.then((ok) => {
    pingDone = true;
    return { ok, during: flood.running() };
  });
  const shows: { status: number | null; ms: number }[] = [];
  while (flood.running() && (!pingDone || shows.length < 3)) {
    shows.push(show(s));
    await sleep(SHOW_EVERY_MS);
  }
  const report = await flood.done;
  const used = cpuSeconds(pid) - c0;
  const delivered = snmp(s.lab, s.r, 'Udp', 'InDatagrams') - in0;
  t.diagnostic(`${s.d.impl} blast: ${summary(report)}`);
  t.diagnostic(
    `${s.d.impl} blast: ${delivered} datagrams delivered to the daemon, which used ${used.toFixed(2)} s of CPU (${((used / delivered) * 1e6).toFixed(2)} us each; a DH costs ${(dh * 1e6).toFixed(1)} us)`,
  );
  t.diagnostic(`${s.d.impl} wg show during the flood: ${shows.map((x) => `${x.ms} ms`).join(', ')}`);
  assert.ok(
    used < DH_FRACTION * delivered * dh,
    `${s.d.impl} used ${used.toFixed(2)} s of CPU for ${delivered} flood messages: not far below a DH each`,
  );
  assert.ok(report.cookies > 0, `${s.d.impl} sent no cookie reply under a flood`);
  assert.ok(report.cookiesVerified > 0, 'no cookie reply decrypted');
  assert.equal(report.cookiesInvalid, 0, 'a cookie reply did not decrypt');
  assert.equal(report.responses, 0, 'a garbage initiation got a handshake response');
  assert.ok(shows.length >= 3, 'wg show was tried during the flood');
  for (const x of shows) assert.equal(x.status, 0, `${s.d.impl}: wg show failed during the flood`);
  if (pingAt) {
    const p = await pingAt;
    t.diagnostic(`${s.d.impl}: the legitimate ping ${p.ok ? 'came through' : 'got no reply'}`);
    // wireguard-go drops handshake messages at random once its queue is full, the legitimate
    // peer's among them: it has no per-source budget. So it is the oracle for cookies only.
    if (legit === 'must') {
      assert.ok(p.ok, `${s.d.impl}: the legitimate peer got no ping through during the flood`);
      assert.ok(p.during, 'the legitimate handshake completed while the flood still ran');
      const hs = s.lab.wg(s.r, ['show', s.d.ifname, 'latest-handshakes']);
      assert.match(hs, new RegExp(`^${s.legitKey.replace(/[+/]/g, '\\$&')}\\t[1-9]`, 'm'));
    }
  }
}

/** CPU seconds per DH (X25519 as the engine does it), measured now in this process. */
function dhCost(rounds: number): number {
  const priv = new Uint8Array(randomBytes(32));
  const pubs = Array.from({ length: rounds }, () => new Uint8Array(randomBytes(32)));
  const c = process.cpuUsage();
  for (const p of pubs) sharedSecret(priv, p);
  const u = process.cpuUsage(c);
  return (u.user + u.system) / 1e6 / rounds;
}

for (const impl of ['wgm-engine', 'wireguard-go'] as const) {
  const what =
    impl === 'wgm-engine'
      ? 'cookie replies, a legitimate handshake still completes, UAPI answers, nothing leaks'
      : 'the oracle: cookie replies, UAPI answers';
  test(`an initiation flood against ${impl}: ${what}`, async (t) => {
    if (!need(t, NEEDS)) return;
    const lab = new Lab(`fl${impl === 'wgm-engine' ? 'm' : 'g'}`);
    t.after(() => lab.cleanup());
    const s = await setup(lab, impl);
    const pid = s.d.proc.pid!;
    const peers0 = peersOf(s);

    await blast(t, s, impl === 'wgm-engine' ? 'must' : 'try');
    const rss1 = rssKiB(pid);

    if (impl === 'wgm-engine') {
      const c0 = cpuSeconds(pid);
      const report = await startFlood(s, { seconds: SPREAD_S, sources: s.sources, rate: SPREAD_RATE }).done;
      const used = cpuSeconds(pid) - c0;
      t.diagnostic(`spread (${SPREAD_SOURCES} sources): ${summary(report)}`);
      t.diagnostic(`spread: daemon CPU ${((used / report.sent) * 1e6).toFixed(1)} us per message`);
      assert.ok(
        report.cookies >= SPREAD_COOKIE_SHARE * report.sent,
        `only ${report.cookies} cookie replies to ${report.sent} flood messages: not under load`,
      );
    }

    await blast(t, s, 'no');
    const rss2 = rssKiB(pid);
    t.diagnostic(`${impl} resident memory: ${rss1} KiB after the first blast, ${rss2} KiB after the last`);
    assert.equal(peersOf(s), peers0, 'the flood changed the peers');
    assert.equal(show(s).status, 0);
    if (impl === 'wgm-engine')
      assert.ok(rss2 - rss1 < RSS_SLACK_KIB, `resident memory grew ${rss2 - rss1} KiB between floods`);
  });
}
