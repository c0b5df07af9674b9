// NetWatch (src/engine/net-watch.ts) against the real kernel, opened inside a private network
// namespace: a burst of notifications is one change, reported within a second; the engine's own
// interface and another namespace are no change; a route (which polling never saw) and a link
// going down are; so are notifications lost to a full socket buffer. Without rtnetlink it polls
// the addresses and says so once (in a process of its own inside the namespace). close() leaves
// nothing pending (the file would not end otherwise).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Logger } from '../../../src/engine/log.js';
import { NetWatch } from '../../../src/engine/net-watch.js';
import { ifNameToIndex } from '../../../src/sys/ifname.js';
import { BUILD, need } from '../../lib/run.js';
import { addNetns, deleteNetns, inNetns, ip, nsName } from '../sys/netns.js';

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function until(what: string, cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await settle(10);
  }
  return Date.now() - start;
}

interface Watched {
  watch: NetWatch;
  changes: string[];
  logs: string[];
}

function open(ns: string, own: string, rtnetlink = true): Watched {
  const changes: string[] = [];
  const logs: string[] = [];
  const watch = inNetns(ns, () => {
    const index = ifNameToIndex(own);
    // Names as the namespace knows them (the test's thread is elsewhere after this).
    const names = new Map<number, string>();
    for (const dev of ['lo', 'up0', 'up1', 'own0', 'own1']) names.set(ifNameToIndex(dev), dev);
    return new NetWatch({
      ifname: own,
      own: () => index,
      nameOf: (i) => names.get(i),
      log: new Logger('verbose', own, (l) => logs.push(l)),
      onChange: (what) => changes.push(what),
      rtnetlink,
    });
  });
  return { watch, changes, logs };
}

test('rtnetlink: one change per burst; the own interface and other namespaces are none', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const a = nsName('nwa');
  const b = nsName('nwb');
  addNetns(a);
  addNetns(b);
  t.after(() => {
    deleteNetns(a);
    deleteNetns(b);
  });
  for (const ns of [a, b]) {
    ip(ns, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
    ip(ns, 'link', 'add', 'own0', 'type', 'veth', 'peer', 'name', 'own1');
    // No IPv6 link-local addresses: theirs would be changes, a second or so later (DAD).
    for (const dev of ['up0', 'up1', 'own0', 'own1']) ip(ns, 'link', 'set', dev, 'addrgenmode', 'none', 'up');
  }
  await settle(300);
  const w = open(a, 'own0');
  t.after(() => w.watch.close());
  assert.equal(w.watch.mode, 'rtnetlink', w.logs.join(''));

  // The engine's own interface (as wg-quick configures it) and the other namespace: nothing.
  ip(a, 'addr', 'add', '10.60.0.1/24', 'dev', 'own0');
  ip(a, 'addr', 'add', 'fd60::1/64', 'dev', 'own0', 'nodad');
  ip(a, 'route', 'add', '10.61.0.0/16', 'dev', 'own0');
  ip(a, 'route', 'add', '0.0.0.0/0', 'dev', 'own0', 'table', '51820');
  ip(a, 'link', 'set', 'own0', 'mtu', '1400');
  ip(b, 'addr', 'add', '10.62.0.1/24', 'dev', 'up0');
  ip(b, 'route', 'add', '10.63.0.0/16', 'via', '10.62.0.2');
  await settle(800);
  assert.equal(w.changes.join(' | '), '', 'the own interface or the other namespace counted');

  // An address (a burst: the address, its prefix route, local and broadcast routes): one change.
  ip(a, 'addr', 'add', '10.64.0.1/24', 'dev', 'up0');
  const tookAddr = await until('the address change', () => w.changes.length > 0, 2000);
  await settle(500);
  assert.deepEqual(w.changes, ['address 10.64.0.1/24 on up0 added, route 10.64.0.0/24 dev up0 added']);
  t.diagnostic(`address: reported after ${tookAddr} ms`);

  // A route alone (polling never saw one), then an IPv6 address once it is usable.
  ip(a, 'route', 'add', '10.65.0.0/16', 'via', '10.64.0.2');
  const tookRoute = await until('the route change', () => w.changes.length > 1, 2000);
  assert.equal(w.changes[1], 'route 10.65.0.0/16 via 10.64.0.2 dev up0 added');
  t.diagnostic(`route: reported after ${tookRoute} ms`);
  ip(a, 'addr', 'add', 'fd64::1/64', 'dev', 'up0', 'nodad');
  await until('the IPv6 address', () => w.changes.length > 2, 2000);
  assert.match(w.changes[2]!, /address fd64::1\/64 on up0 added/);

  // The link stops running (its peer goes down): a change; up again: another.
  await settle(300);
  const n = w.changes.length;
  ip(a, 'link', 'set', 'up1', 'down');
  await until('the link change', () => w.changes.length > n, 2000);
  assert.match(w.changes[n]!, /link up0 down/);
  assert.ok(
    w.changes.every((c) => !c.includes('own0')),
    `the own interface counted: ${w.changes.join(' | ')}`,
  );
});

test('notifications the kernel had to drop (ENOBUFS) count as a change; listening goes on', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const a = nsName('nwo');
  addNetns(a);
  t.after(() => deleteNetns(a));
  ip(a, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
  ip(a, 'link', 'set', 'up0', 'addrgenmode', 'none', 'up');
  ip(a, 'link', 'set', 'up1', 'addrgenmode', 'none', 'up');
  ip(a, 'addr', 'add', '10.67.0.1/24', 'dev', 'up0');
  await settle(300);
  const w = open(a, 'own0');
  t.after(() => w.watch.close());
  // 4000 routes while this thread is blocked in spawnSync and reads nothing: far more than the
  // socket's receive buffer holds.
  const batch = Array.from(
    { length: 4000 },
    (_, i) => `route add 10.${100 + (i >> 8)}.${i & 255}.0/24 via 10.67.0.2`,
  );
  const file = join(tmpdir(), `wgm-nw-${process.pid}.batch`);
  writeFileSync(file, `${batch.join('\n')}\n`);
  t.after(() => rmSync(file, { force: true }));
  ip(a, '-batch', file);
  await until('the change', () => w.changes.length > 0, 3000);
  await settle(500);
  t.diagnostic(w.changes.join(' | ').slice(0, 300));
  assert.ok(
    w.changes.some((c) => c.includes('notifications lost')),
    `no overflow seen: ${w.changes.join(' | ').slice(0, 300)}`,
  );
  assert.equal(w.watch.mode, 'rtnetlink', 'it kept listening');
  // And it still hears the next change.
  const n = w.changes.length;
  ip(a, 'route', 'add', '10.99.0.0/16', 'via', '10.67.0.2');
  await until('the next change', () => w.changes.length > n, 2000);
});

test('without rtnetlink: it says so once and polls the addresses every second', async (t) => {
  if (!need(t, { root: true, commands: ['ip'] })) return;
  const a = nsName('nwp');
  addNetns(a);
  t.after(() => deleteNetns(a));
  ip(a, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
  ip(a, 'link', 'set', 'up0', 'addrgenmode', 'none', 'up');
  ip(a, 'link', 'set', 'up1', 'addrgenmode', 'none', 'up');
  // os.networkInterfaces() reads the main thread's namespace: the watch runs in a process of its
  // own inside `a`, printing its log and its changes.
  const url = (f: string) => JSON.stringify(pathToFileURL(join(BUILD, f)).href);
  const script = [
    `import { NetWatch } from ${url('src/engine/net-watch.js')};`,
    `import { Logger } from ${url('src/engine/log.js')};`,
    'new NetWatch({ ifname: "own0", own: () => 0, rtnetlink: false,',
    '  log: new Logger("verbose", "t", (l) => process.stdout.write(l)),',
    '  onChange: (what) => process.stdout.write("change: " + what + "\\n") });',
  ].join('\n');
  const child = spawn('ip', ['netns', 'exec', a, process.execPath, '--input-type=module', '-e', script]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  t.after(() => child.kill());
  await until(`the fallback's log line (${out})`, () => out.includes('polling'), 20_000);
  assert.match(
    out,
    /^DEBUG: \(t\) .*Network changes: no rtnetlink notifications \(.*\); polling the local addresses every second\n$/,
  );
  await settle(1500);
  assert.doesNotMatch(out, /change:/);
  ip(a, 'addr', 'add', '10.66.0.1/24', 'dev', 'up0');
  const took = await until(`the change (${out})`, () => out.includes('change: '), 5000);
  t.diagnostic(`polling: reported after ${took} ms`);
  assert.match(out, /change: local addresses changed\n$/);
  assert.equal(out.match(/no rtnetlink/g)?.length, 1, 'said once');
});
