// The delay relay (test/lib/relay-main.ts) carrying a real WireGuard tunnel: two wireguard-go
// daemons in two namespaces, A's endpoint for B pointed at a relay inside A, direct B-to-A
// datagrams dropped so that both directions cross the relay. Ping through the tunnel shows the
// configured delay; a blackhole set over the control socket stops it, and lifting it restores it.

import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { Lab, tunnel, waitFor } from '../lib/netns.js';
import { BUILD, need } from '../lib/run.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'iptables', 'ping'] };

function pingStats(
  lab: Lab,
  ns: string,
  to: string,
  count: number,
): { received: number; min: number; avg: number } {
  const r = lab.exec(ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', '-n', '-q', to], {
    timeoutMs: 20_000 + count * 1000,
  });
  const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
  const m = /= ([\d.]+)\/([\d.]+)\//.exec(r.stdout);
  return { received, min: Number(m?.[1] ?? Number.NaN), avg: Number(m?.[2] ?? Number.NaN) };
}

async function control(path: string, line: string): Promise<string> {
  const sock = createConnection(path);
  const answers = createInterface({ input: sock })[Symbol.asyncIterator]();
  sock.write(`${line}\n`);
  const a = (await answers.next()).value as string;
  sock.end();
  return a;
}

test('a WireGuard tunnel through the relay: delay, blackhole and restore', async (t) => {
  if (!need(t, NEEDS)) return;
  const lab = new Lab('rl');
  t.after(() => lab.cleanup());
  const tun = await tunnel(lab, 'wireguard-go', 'wireguard-go', { subnet: 231 });
  const { a, b } = tun;
  const relayPort = 51_990;
  const ctl = join(lab.dir, 'relay.sock');
  const relay = lab.spawn(a.ns, process.execPath, [
    join(BUILD, 'test/lib/relay-main.js'),
    '--listen',
    `127.0.0.1:${relayPort}`,
    '--target',
    `${b.outer.v4}:${b.port}`,
    '--fwd',
    'delay=40',
    '--rev',
    'delay=40',
    '--control',
    ctl,
  ]);
  let out = '';
  relay.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await waitFor('the relay to be ready', () => out.includes('ready '));
  // Only the relay may talk to B from A's side, and B's datagrams reach A only through it.
  lab.wg(a.ns, ['set', a.ifname, 'peer', b.key.pub, 'endpoint', `127.0.0.1:${relayPort}`]);
  const drop = ['-p', 'udp', '-s', b.outer.v4, '--dport', String(a.port), '-j', 'DROP'];
  assert.equal(lab.exec(a.ns, 'iptables', ['-A', 'INPUT', ...drop]).status, 0);

  pingStats(lab, a.ns, b.inner.v4, 1); // the handshake
  const slow = pingStats(lab, a.ns, b.inner.v4, 5);
  assert.ok(slow.received >= 4, `only ${slow.received} of 5 replies through the relay`);
  assert.ok(slow.min >= 78, `RTT ${slow.min} ms is below the 80 ms the relay adds`);
  assert.ok(slow.min < 80 + 300, `minimum RTT ${slow.min} ms (generous bound for a loaded machine)`);
  const endpoint = lab.wg(b.ns, ['show', b.ifname, 'endpoints']);
  assert.match(endpoint, new RegExp(`${a.outer.v4.replaceAll('.', '\\.')}:(\\d+)`), 'B talks to the relay');
  assert.doesNotMatch(endpoint, new RegExp(`:${a.port}\\s*$`), "B's endpoint is the relay's socket");

  assert.match(await control(ctl, 'fwd blackhole=1'), /^ok /);
  assert.equal(pingStats(lab, a.ns, b.inner.v4, 3).received, 0, 'blackholed');
  const stats = JSON.parse((await control(ctl, 'stats')).slice(3)) as {
    counters: { fwd: { dropped: number } };
  };
  assert.ok(stats.counters.fwd.dropped >= 3);
  assert.match(await control(ctl, 'both blackhole=0 delay=0'), /^ok /);
  const fast = pingStats(lab, a.ns, b.inner.v4, 5);
  assert.ok(fast.received >= 4, `only ${fast.received} of 5 replies after the blackhole was lifted`);
  assert.ok(fast.min < slow.min, `delay 0 (${fast.min} ms) is not faster than delay 80 (${slow.min} ms)`);
  t.diagnostic(
    `ping through the relay (min/avg): ${slow.min}/${slow.avg} ms with 40+40 ms, ${fast.min}/${fast.avg} ms with none`,
  );
});
