// The container pattern of WireGuard: the daemons start in one namespace (H), where their UDP
// sockets stay, and their interfaces are moved into others (`ip link set IF netns A`). Kernel
// WireGuard and wireguard-go keep running and keep carrying traffic through the moved
// interface; wgm-engine must too, and must still exit when the interface is deleted in the
// namespace it moved to.
//
// Each case: both interfaces born in H, moved to A and B (or one left in H), configured with
// stock `wg` from H after the move, the tunnel's UDP packets crossing H's loopback (127.0.0.1
// or ::1). Then ping floods both ways, iperf3 TCP and UDP both ways (TCP a GiB per direction
// by default, UDP a GiB in one case and a quarter in the others; with and without -Z), jumbo
// pings with DF where the MTU is 9000, and finally the
// interfaces deleted from their new namespaces: each daemon exits with status 0 and its UAPI
// socket is gone. The engine's log says where the interface went.
//
// WGM_MOVE_BYTES (default 1 GiB) sets the bytes per iperf3 run; WGM_MOVE_UDP_MBITS the UDP
// sending rate of every case. About 7 minutes on a 2-core machine at a load average of 15.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import {
  type Impl,
  Lab,
  type MovedTunnel,
  movedTunnel,
  ping,
  type Side,
  SOCKET_DIR,
  snmp,
  waitFor,
} from '../lib/netns.js';
import { need } from '../lib/run.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'ip', 'ping', 'iperf3', 'tc'] };
const BYTES = Number(process.env['WGM_MOVE_BYTES'] ?? 2 ** 30);
/** Overrides each case's UDP sending rate (Mbit/s) when set. */
const UDP_MBITS = Number(process.env['WGM_MOVE_UDP_MBITS'] ?? 0);
/** Echo requests per ping flood. */
const FLOOD = 2000;
/**
 * UDP loss iperf3 may report (percent) at the rates below. More is accepted only when the
 * kernel counted the lost datagrams itself as dropped at a full socket buffer or queue (a
 * daemon fell behind: on a 2-core machine shared with other work, the sender's TUN queue or
 * the receiver's UDP socket overflows now and then while a daemon waits for a CPU) and the
 * total stays under MAX_OVERLOAD_LOSS; the tunnel itself may lose at most 1% besides.
 */
const MAX_UDP_LOSS = 2;
const MAX_OVERLOAD_LOSS = 25;

interface Case {
  name: string;
  impls: [Impl, Impl];
  outer: 4 | 6;
  mtu: number;
  move?: [boolean, boolean];
  /** Which iperf3 runs use -Z (TCP: sendfile; UDP: MSG_ZEROCOPY where iperf3 has it). */
  zerocopy: { tcp: boolean; udp: boolean };
  /**
   * The UDP runs' share of BYTES. TCP always carries all of it; UDP does in one case and a
   * quarter in the others, to keep the file's run time to a few minutes.
   */
  udpShare: number;
  /**
   * A UDP sending rate (Mbit/s) a loaded 2-core machine carries with little loss. TCP finds
   * 400-1000 Mbit/s between these ends with 9000-byte packets and 200-300 with 1420-byte
   * ones; a UDP sender keeps its rate regardless, and the receiving daemon's socket overflows
   * when it falls behind (wireguard-go, at 300 Mbit/s of jumbo datagrams, lost 8-17% there).
   */
  udpMbits: number;
}

const CASES: Case[] = [
  {
    name: 'wgm-engine both ends, both moved, IPv4 outer, MTU 1420',
    impls: ['wgm-engine', 'wgm-engine'],
    outer: 4,
    mtu: 1420,
    zerocopy: { tcp: false, udp: true },
    udpShare: 1 / 4,
    udpMbits: 120,
  },
  {
    name: 'wgm-engine both ends, both moved, IPv6 outer, jumbo MTU 9000',
    impls: ['wgm-engine', 'wgm-engine'],
    outer: 6,
    mtu: 9000,
    zerocopy: { tcp: true, udp: false },
    udpShare: 1,
    udpMbits: 300,
  },
  {
    name: 'wgm-engine and wireguard-go, both moved, IPv4 outer, jumbo MTU 9000',
    impls: ['wgm-engine', 'wireguard-go'],
    outer: 4,
    mtu: 9000,
    zerocopy: { tcp: true, udp: true },
    udpShare: 1 / 4,
    udpMbits: 150,
  },
  {
    name: 'wgm-engine moved, wireguard-go left in the birth namespace, IPv6 outer, jumbo MTU 9000',
    impls: ['wgm-engine', 'wireguard-go'],
    outer: 6,
    mtu: 9000,
    move: [true, false],
    zerocopy: { tcp: false, udp: false },
    udpShare: 1 / 4,
    udpMbits: 150,
  },
];

for (const c of CASES) test(c.name, { timeout: 900_000 }, (t) => movedCase(t, c));

async function movedCase(t: TestContext, c: Case): Promise<void> {
  if (!need(t, NEEDS)) return;
  const lab = new Lab('mv');
  t.after(() => lab.cleanup());
  const tn = await movedTunnel(lab, c.impls[0], c.impls[1], {
    outer: c.outer,
    mtu: c.mtu,
    move: c.move,
    env: { LOG_LEVEL: 'verbose' },
  });
  const { a, b } = tn;
  // A longer TUN queue (500 by default) rides out the moments a busy machine does not run
  // the daemon's reader; UDP senders do not slow down for it as TCP does.
  for (const s of [a, b]) lab.ip(s.ns, 'link', 'set', 'dev', s.ifname, 'txqueuelen', '5000');
  for (const s of [a, b]) {
    if (s.d.impl !== 'wgm-engine' || s.ns === tn.home) continue;
    await waitFor(`${s.ifname} to log its move`, () =>
      s.d.output().includes(`Interface moved to network namespace ${s.ns};`),
    );
    if (c.mtu !== 1420)
      await waitFor(`${s.ifname} to read the MTU set after the move`, () =>
        s.d.output().includes(`MTU updated: ${c.mtu}`),
      );
  }
  alive(tn);
  assert.ok(ping(lab, a, b.inner.v4), `ping A → B\n${a.d.output()}\n${b.d.output()}`);
  assert.ok(ping(lab, b, a.inner.v6), 'ping B → A (IPv6 inside)');
  // `wg` in the birth namespace still reaches both daemons and sees the handshake.
  for (const s of [a, b]) {
    const hs = Number(lab.wg(tn.home, ['show', s.ifname, 'latest-handshakes']).trim().split('\t')[1]);
    assert.ok(hs > 0, `${s.ifname}: a handshake, seen from the birth namespace`);
  }

  await flood(lab, a, b.inner.v4);
  await flood(lab, b, a.inner.v4);
  await flood(lab, a, b.inner.v6);
  if (c.mtu >= 9000) {
    // The largest packets the interfaces take, DF, both ways and in both inner families.
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      assert.ok(ping(lab, from, to.inner.v4, { size: c.mtu - 28, df: true }), `jumbo v4 ${from.ifname}`);
      assert.ok(ping(lab, from, to.inner.v6, { size: c.mtu - 48, df: true }), `jumbo v6 ${from.ifname}`);
    }
  }

  for (const udp of [false, true]) {
    const zerocopy = udp ? c.zerocopy.udp : c.zerocopy.tcp;
    for (const reverse of [false, true]) {
      const receiver = reverse ? a : b;
      const rx0 = rxBytes(lab, tn, receiver);
      const sender = reverse ? b : a;
      const drops0 = rcvbufErrors(lab, receiver.ns);
      const home0 = rcvbufErrors(lab, tn.home);
      const qdisc0 = qdiscDrops(lab, sender);
      const backlog0 = backlogDrops();
      const bytes = udp ? Math.round(BYTES * c.udpShare) : BYTES;
      const mbits = UDP_MBITS || c.udpMbits;
      const r = await iperf(lab, a, b, { udp, reverse, zerocopy, mtu: c.mtu, bytes, mbits });
      const rx = rxBytes(lab, tn, receiver) - rx0;
      const drops = rcvbufErrors(lab, receiver.ns) - drops0;
      const backlog = backlogDrops() - backlog0;
      const home = rcvbufErrors(lab, tn.home) - home0;
      const qdisc = qdiscDrops(lab, sender) - qdisc0;
      const what = `${udp ? 'UDP' : 'TCP'} ${reverse ? 'B → A' : 'A → B'}${zerocopy ? ' -Z' : ''}`;
      t.diagnostic(
        `${what}: ${r.received} bytes at ${r.mbits.toFixed(0)} Mbit/s, loss ${r.lossPercent}%, receiver's wg rx +${rx}, drops: iperf3 socket ${drops}, tunnel sockets ${home}, sender's interface queues ${qdisc}, input backlog (whole host) ${backlog}`,
      );
      assert.ok(r.sent >= bytes, `${what}: iperf3 sent ${r.sent} of ${bytes}`);
      // What crossed the tunnel, as the receiving end counts it (payload plus headers).
      assert.ok(rx >= r.received, `${what}: the receiver's transfer counter grew by ${rx}`);
      if (udp) {
        // (The receiver's namespace may be H itself: count its socket drops once.)
        const counted = drops + (receiver.ns === tn.home ? 0 : home) + qdisc + backlog;
        const unexplained = Math.max(0, r.lostPackets - counted);
        assert.ok(
          r.lossPercent <= MAX_UDP_LOSS ||
            (r.lossPercent <= MAX_OVERLOAD_LOSS && unexplained <= r.packets / 100),
          `${what}: ${r.lossPercent}% lost (${r.lostPackets} datagrams, ${counted} counted as dropped by the kernel)`,
        );
      } else {
        // iperf3's server stops counting when the client ends the test, so the bytes still in
        // flight (up to a congestion window) are missing from its sum; the counter above has
        // them.
        assert.ok(rx >= BYTES, `${what}: the receiver's transfer counter grew by ${rx} < ${BYTES}`);
        assert.ok(r.received >= BYTES * 0.95, `${what}: iperf3 received ${r.received} of ${BYTES}`);
      }
    }
  }
  alive(tn);

  // Deleting each interface where it is now ends its daemon, which removes its socket.
  for (const s of [a, b]) {
    lab.ip(s.ns, 'link', 'delete', s.ifname);
    const code = await Promise.race([s.d.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
    assert.equal(code, 0, `${s.d.impl} ${s.ifname} exit status after the deletion\n${s.d.output()}`);
    assert.equal(existsSync(`${SOCKET_DIR}/${s.ifname}.sock`), false, `${s.ifname}: socket removed`);
    if (s.d.impl === 'wgm-engine') assert.match(s.d.output(), /Shutting down: the interface was deleted/);
  }
}

/** The bytes a side received from its peer, as `wg show IF transfer` in the birth namespace says. */
function rxBytes(lab: Lab, tn: MovedTunnel, s: Side): number {
  const line = lab.wg(tn.home, ['show', s.ifname, 'transfer']).trim();
  return Number(line.split('\t')[1]);
}

/** UDP datagrams a namespace dropped because a socket's receive buffer was full (v4 + v6). */
function rcvbufErrors(lab: Lab, ns: string): number {
  return snmp(lab, ns, 'Udp', 'RcvbufErrors') + snmp(lab, ns, 'Ip6', 'Udp6RcvbufErrors');
}

/**
 * Packets a side's interface dropped on the way to its daemon: in its queueing discipline
 * (`tc -s qdisc`), and when the TUN's own queue was full because the daemon did not read
 * in time (the link's tx_dropped).
 */
function qdiscDrops(lab: Lab, s: Side): number {
  const out = lab.exec(s.ns, 'tc', ['-s', 'qdisc', 'show', 'dev', s.ifname]).stdout;
  let n = 0;
  for (const m of out.matchAll(/dropped (\d+)/g)) n += Number(m[1]);
  const link = JSON.parse(lab.ip(s.ns, '-s', '-j', 'link', 'show', 'dev', s.ifname))[0];
  return n + Number(link?.stats64?.tx?.dropped ?? 0);
}

/** Packets the host's per-CPU input backlogs dropped so far (/proc/net/softnet_stat, column 2). */
function backlogDrops(): number {
  let n = 0;
  for (const line of readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n'))
    n += Number.parseInt(line.split(/\s+/)[1] ?? '0', 16);
  return n;
}

/** Both daemons still run (neither mistook the move for a deletion). */
function alive(tn: MovedTunnel): void {
  for (const s of [tn.a, tn.b])
    assert.equal(s.d.proc.exitCode, null, `${s.d.impl} ${s.ifname} exited:\n${s.d.output()}`);
}

/** `ping -f -c FLOOD`: FLOOD replies back, (nearly) no request lost. */
async function flood(lab: Lab, from: Side, to: string): Promise<void> {
  const r = await execAsync(
    lab,
    from.ns,
    'ping',
    ['-f', '-c', String(FLOOD), '-w', '60', '-n', '-q', to],
    90_000,
  );
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  assert.ok(m, `ping -f ${to}: ${r.stdout} ${r.stderr}`);
  // With a deadline (-w), ping keeps sending until FLOOD replies came back: a late or lost
  // reply costs one more request. Under load a few are late; more than 1% would be a fault.
  const [sent, got] = [Number(m[1]), Number(m[2])];
  assert.ok(got >= FLOOD, `ping -f ${to}: ${got} of ${FLOOD} replies within the deadline`);
  assert.ok(sent - got <= FLOOD / 100, `ping -f ${to}: ${sent} requests for ${got} replies`);
}

interface IperfResult {
  sent: number;
  /** UDP: datagrams sent, and those the receiver found missing. */
  packets: number;
  lostPackets: number;
  received: number;
  mbits: number;
  lossPercent: number;
}

/** One iperf3 run of `bytes` from `client` to `server` (reverse: the server sends). */
async function iperf(
  lab: Lab,
  client: Side,
  server: Side,
  o: { udp: boolean; reverse: boolean; zerocopy: boolean; mtu: number; bytes: number; mbits: number },
): Promise<IperfResult> {
  const srv = lab.spawn(server.ns, 'iperf3', ['-s', '-1', '--forceflush', '-B', server.inner.v4]);
  let out = '';
  srv.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await waitFor('iperf3 server to listen', () => out.includes('listening'), 10_000);
  const args = ['-c', server.inner.v4, '-n', String(o.bytes), '-J'];
  if (o.reverse) args.push('-R');
  if (o.zerocopy) args.push('-Z');
  // Datagrams that fill the interface MTU (IPv4 and UDP headers: 28 bytes), unfragmented.
  // A 4 MiB socket buffer (what net.core.rmem_max allows here): with the default 208 KiB,
  // iperf3's own receive socket overflows in the bursts the tunnel delivers, and that loss
  // (Udp RcvbufErrors of the receiving namespace) is not the tunnel's.
  if (o.udp) args.push('-u', '-b', `${o.mbits}M`, '-l', String(o.mtu - 28), '-w', '4M');
  const seconds = o.udp ? (o.bytes * 8) / (o.mbits * 1e6) : o.bytes / 10e6;
  const r = await execAsync(lab, client.ns, 'iperf3', args, Math.ceil(seconds + 60) * 1000);
  assert.equal(r.status, 0, `iperf3 ${args.join(' ')}: ${r.stdout.slice(0, 2000)} ${r.stderr}`);
  const j = JSON.parse(r.stdout) as {
    end: {
      sum_sent?: { bytes: number };
      sum_received?: { bytes: number; bits_per_second: number };
      sum?: {
        bytes: number;
        bits_per_second: number;
        lost_percent?: number;
        lost_packets?: number;
        packets?: number;
      };
    };
  };
  if (process.env['WGM_MOVE_DUMP']) console.error(JSON.stringify(j.end).slice(0, 3000));
  if (o.udp) {
    // iperf3 3.12's UDP summary: bytes sent, and the share the receiver counted as lost.
    const sum = j.end.sum!;
    const loss = sum.lost_percent ?? 0;
    return {
      packets: sum.packets ?? 0,
      lostPackets: sum.lost_packets ?? 0,
      sent: sum.bytes,
      received: Math.round(sum.bytes * (1 - loss / 100)),
      mbits: sum.bits_per_second / 1e6,
      lossPercent: loss,
    };
  }
  const rx = j.end.sum_received!;
  return {
    packets: 0,
    lostPackets: 0,
    sent: j.end.sum_sent!.bytes,
    received: rx.bytes,
    mbits: rx.bits_per_second / 1e6,
    lossPercent: 0,
  };
}

/**
 * Runs a command in `ns` without blocking this process's event loop, so the daemons' log
 * pipes keep being read while it runs (a daemon blocked on a full pipe would stall traffic).
 */
function execAsync(
  lab: Lab,
  ns: string,
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const p = lab.spawn(ns, cmd, args);
  let stdout = '';
  let stderr = '';
  p.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  p.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
