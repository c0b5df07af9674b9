// The wgm CLI against stock wg on real kernel WireGuard (Debian 6.12 kernel in the test VM), all
// in one boot:
// - two namespaces with kernel devices configured by stock wg (several peers, PSKs, keepalive,
//   IPv4 and IPv6 allowed IPs, a scoped IPv6 endpoint, fwmark), a handshake and a ping over the
//   tunnel; then every form of `show` and `showconf`, by wg and by wgm, with WG_COLOR_MODE and
//   WG_HIDE_KEYS set: stdout bytes, stderr (program name mapped) and exit status must agree.
//   wgm starts in about 2 s under TCG, so wg runs before, throughout and after each wgm run and
//   wgm's output must be one of the outputs wg printed meanwhile (test/vm/cli-guest.ts).
// - twins: a corpus of config files and `set` lines applied by wg to device X and by wgm to a
//   twin Y; `wg showconf` of both must be identical, and so must the commands' own output.
// - a multi-endpoint config sent with `wgm setconf` to a kernel device is refused (exit 1) and
//   leaves the device as it was.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { BUILD, run } from '../lib/run.js';
import { WG_SHOW_FIELDS as FIELDS } from '../lib/show-fields.js';
import type { FormJob, FormResult, Ran, TwinResult } from '../vm/cli-guest.js';
import { twinCorpus } from '../vm/cli-twins.js';
import { GuestRun, randomKey } from '../vm/kit.js';

const CLI_GUEST = join(BUILD, 'test/vm/cli-guest.js');

function genkey(): { priv: string; pub: string } {
  const priv = run('wg', ['genkey']).stdout.trim();
  return { priv, pub: run('wg', ['pubkey'], { input: `${priv}\n` }).stdout.trim() };
}

/** wgm's stderr with its own name where wg says `wg` (usage lines). */
function asWg(stderr: string): string {
  return stderr.replace(/\bwgm\b(?!-)/g, 'wg');
}

function comparable(r: Ran, ours: boolean): { status: number | null; stdout: string; stderr: string } {
  return { status: r.status, stdout: r.stdout, stderr: ours ? asWg(r.stderr) : r.stderr };
}

/**
 * wgm names the file and line of a config error (docs/architecture.md, "Errors and output": wg's
 * words plus where); wg does not. Checks that the prefix is there and names the right line, then
 * drops it.
 */
function withoutLocation(stderr: string, conf: string | undefined, line: number | undefined): string {
  if (line === undefined || conf === undefined) return stderr;
  const prefix = `${conf}:${line}: `;
  assert.ok(stderr.startsWith(prefix), `wgm's error does not start with ${prefix}: ${stderr}`);
  return stderr.slice(prefix.length);
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const ALWAYS = { WG_COLOR_MODE: 'always' };
const NEVER = { WG_COLOR_MODE: 'never' };
const SHOW_KEYS = { WG_HIDE_KEYS: 'never' };

function formsA(): FormJob[] {
  const jobs: FormJob[] = [];
  // `show` prints what `show all` prints: one colour mode is enough for it.
  jobs.push({ args: ['show'], env: NEVER });
  for (const args of [
    ['show', 'vcwa'],
    ['show', 'all'],
  ])
    for (const env of [ALWAYS, NEVER, { ...NEVER, ...SHOW_KEYS }]) jobs.push({ args, env });
  const loud = { ...ALWAYS, ...SHOW_KEYS };
  jobs.push({ args: ['show', 'interfaces'], env: loud });
  for (const f of FIELDS) jobs.push({ args: ['show', 'vcwa', f], env: loud });
  for (const f of FIELDS) jobs.push({ args: ['show', 'all', f], env: loud });
  jobs.push({ args: ['showconf', 'vcwa'], env: loud });
  return jobs;
}

const FORMS_A_ERRORS: FormJob[] = [
  ['show', 'vcnone'],
  ['show', 'vcdum'],
  ['show', 'vcwa', 'bogus'],
  ['showconf', 'vcnone'],
].map((args) => ({ args, env: {} }));

const FORMS_B: FormJob[] = [
  { args: ['show', 'vcwb'], env: { ...ALWAYS, ...SHOW_KEYS } },
  { args: ['show', 'vcwb', 'dump'], env: {} },
];

test('wgm show/showconf/set/setconf match stock wg on kernel WireGuard', { timeout: 900_000 }, async (t) => {
  const g = GuestRun.start(t);
  if (!g) return;

  const [a, b, c] = [genkey(), genkey(), genkey()];
  const fake = { p2: randomKey(), p3: randomKey(), p4: randomKey(), p5: randomKey() };
  const f = {
    a: g.file('a.key', `${a.priv}\n`),
    b: g.file('b.key', `${b.priv}\n`),
    c: g.file('c.key', `${c.priv}\n`),
    psk: g.file('psk', `${randomKey()}\n`),
    psk2: g.file('psk2', `${randomKey()}\n`),
  };
  const A = 'ip netns exec vca';
  const B = 'ip netns exec vcb';
  g.run(
    'set -e',
    'modprobe wireguard',
    'ip netns add vca && ip netns add vcb',
    'ip -n vca link set lo up && ip -n vcb link set lo up',
    'ip link add vcva netns vca type veth peer name vcvb netns vcb',
    'ip -n vca addr add 192.168.77.1/24 dev vcva && ip -n vca addr add fd00:77::1/64 dev vcva nodad',
    'ip -n vcb addr add 192.168.77.2/24 dev vcvb && ip -n vcb addr add fd00:77::2/64 dev vcvb nodad',
    'ip -n vca link set vcva up && ip -n vcb link set vcvb up',
    'ip -n vca link add vcwa type wireguard && ip -n vca link add vcwa2 type wireguard',
    'ip -n vca link add vcdum type dummy && ip -n vcb link add vcwb type wireguard',
    `${A} wg set vcwa listen-port 51820 fwmark 0x1234 private-key ${f.a}` +
      ` peer ${b.pub} preshared-key ${f.psk} endpoint 192.168.77.2:51821` +
      ' allowed-ips 10.77.0.2/32,fd77::2/128' +
      ` peer ${fake.p2} endpoint [fe80::1%vcva]:51000 allowed-ips 10.78.0.0/16,fd78::/48` +
      ` peer ${fake.p3} preshared-key ${f.psk2} endpoint [2001:db8::5]:443` +
      ` peer ${fake.p4} persistent-keepalive 15 allowed-ips 172.16.0.0/12,::ffff:10.1.0.0/112`,
    `${A} wg set vcwa2 private-key ${f.c} peer ${fake.p5} allowed-ips 10.99.0.0/24`,
    `${B} wg set vcwb listen-port 51821 private-key ${f.b}` +
      ` peer ${a.pub} preshared-key ${f.psk} endpoint 192.168.77.1:51820 allowed-ips 10.77.0.1/32,fd77::1/128`,
    'ip -n vca addr add 10.77.0.1/24 dev vcwa && ip -n vca addr add fd77::1/64 dev vcwa nodad',
    'ip -n vcb addr add 10.77.0.2/24 dev vcwb && ip -n vcb addr add fd77::2/64 dev vcwb nodad',
    'ip -n vca link set vcwa up && ip -n vcb link set vcwb up',
    'set +e',
  );
  g.section('ping4', `${A} ping -c 2 -W 10 10.77.0.2`);
  g.section('ping6', `${A} ping -6 -c 2 -W 10 fd77::2`);
  const corpus = twinCorpus((name, content) => g.file(name, content));
  // Two streams for the two vCPUs: the show forms of A; the twins (root namespace), then B's
  // forms and A's error forms. Each step leaves NAME.json, NAME.log and NAME.status.
  const step = (name: string, ns: string, mode: 'forms' | 'twins', jobs: unknown[]) => {
    const out = join(g.dir, name);
    const file = g.file(`${name}-jobs.json`, JSON.stringify(jobs));
    return `{ ${ns} node ${CLI_GUEST} ${mode} ${file} ${out}.json >${out}.log 2>&1; echo $? >${out}.status; }`;
  };
  const steps = ['forms-a', 'twins', 'forms-b', 'forms-a-errors'];
  g.run(
    't0=$(date +%s%N)',
    `( ${step('twins', '', 'twins', corpus)}; ${step('forms-b', B, 'forms', FORMS_B)}; ` +
      `${step('forms-a-errors', A, 'forms', FORMS_A_ERRORS)}; ` +
      `echo $(( ($(date +%s%N) - t0) / 1000000 )) >${g.dir}/stream2.ms ) &`,
    'stream2=$!',
    step('forms-a', A, 'forms', formsA()),
    't1=$(date +%s%N)',
    'wait $stream2',
    `echo '=== ms ==='; echo $(( (t1 - t0) / 1000000 )) $(cat ${g.dir}/stream2.ms)`,
  );
  for (const name of steps) {
    const out = join(g.dir, name);
    g.run(
      `echo '=== ${name} run ==='; cat ${out}.log`,
      `echo '=== ${name} run status ==='; cat ${out}.status`,
      `echo '=== ${name} ==='; cat ${out}.json`,
    );
  }

  const started = Date.now();
  const { result, s } = await g.boot(600_000);
  t.diagnostic(`VM run: ${Date.now() - started} ms; the two streams: ${s.get('ms')} ms`);
  assert.equal(
    result.status,
    0,
    `VM run failed (${result.status}):\n${result.stderr}\n${result.stdout.slice(-3000)}`,
  );
  for (const name of steps)
    assert.equal(s.get(`${name} run status`), '0', `${name}: ${s.get(`${name} run`)}`);

  await t.test('the tunnel carried pings over IPv4 and IPv6', () => {
    assert.equal(s.get('ping4 status'), '0', s.get('ping4'));
    assert.equal(s.get('ping6 status'), '0', s.get('ping6'));
  });

  const forms: FormResult[] = ['forms-a', 'forms-b', 'forms-a-errors'].flatMap((n) => JSON.parse(s.get(n)!));
  let slowest = 0;
  for (const r of forms) {
    slowest = Math.max(slowest, r.wgm.ms);
    const env = Object.entries(r.env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    await t.test(`${env} wgm ${r.args.join(' ')}`, () => {
      const ours = comparable(r.wgm, true);
      const theirs = r.wg.map((w) => comparable(w, false));
      if (theirs.some((w) => JSON.stringify(w) === JSON.stringify(ours))) return;
      const closest = theirs.reduce((x, y) =>
        commonPrefix(y.stdout, ours.stdout) > commonPrefix(x.stdout, ours.stdout) ? y : x,
      );
      assert.deepEqual(ours, closest, `wgm's output is none of the ${theirs.length} wg printed meanwhile`);
    });
  }
  t.diagnostic(`slowest wgm show run in the guest: ${slowest} ms`);

  await t.test('the compared outputs carry a live handshake, traffic, colour and both devices', () => {
    const pick = (args: string[], env?: object) =>
      forms.find(
        (r) => r.args.join(' ') === args.join(' ') && (!env || JSON.stringify(r.env) === JSON.stringify(env)),
      )!.wgm;
    const dump = pick(['show', 'vcwa', 'dump']).stdout.split('\n');
    const peer = dump.find((l) => l.startsWith(b.pub))!.split('\t');
    assert.ok(Number(peer[4]) > 1_600_000_000, `latest handshake ${peer[4]}`);
    assert.ok(Number(peer[5]) > 0 && Number(peer[6]) > 0, `transfer ${peer[5]} ${peer[6]}`);
    assert.equal(pick(['show', 'interfaces']).stdout, 'vcwa vcwa2\n');
    assert.match(pick(['show', 'all'], ALWAYS).stdout, /\x1b\[32m.*latest handshake/s);
    assert.match(pick(['show', 'vcwa'], NEVER).stdout, /endpoint: \[fe80::1%vcva\]:51000/);
    assert.match(pick(['show', 'vcwa'], NEVER).stdout, /preshared key: \(hidden\)/);
    assert.match(
      pick(['show', 'vcwa'], { ...NEVER, ...SHOW_KEYS }).stdout,
      /private key: [A-Za-z0-9+/]{43}=/,
    );
    assert.equal(pick(['show', 'vcnone']).status, 1);
  });

  const twins: TwinResult[] = JSON.parse(s.get('twins')!);
  assert.equal(twins.length, corpus.length);
  for (const r of twins) {
    if (r.name.startsWith('refuse')) continue;
    await t.test(`twin ${r.name}: wgm ${r.wgm.slice(0, 2).join(' ')} leaves what wg leaves`, () => {
      const ours = comparable(r.wgmResult, true);
      ours.stderr = withoutLocation(ours.stderr, r.wgm[2], r.errorLine);
      assert.deepEqual(ours, comparable(r.wgResult, false), 'command output');
      assert.equal(r.xAfter.status, 0, r.xAfter.stderr);
      assert.equal(r.yAfter.stdout.replaceAll(r.y, r.x), r.xAfter.stdout);
    });
  }
  const changed = twins.filter((r) => !r.name.startsWith('refuse') && r.yBefore.stdout !== r.yAfter.stdout);
  await t.test('most twin cases changed the device (the comparison is not of two untouched devices)', () => {
    assert.ok(changed.length >= twins.length - 8, `${changed.length} of ${twins.length} changed`);
  });

  for (const r of twins.filter((x) => x.name.startsWith('refuse'))) {
    await t.test(`${r.name}: wgm refuses several endpoints on a kernel device and changes nothing`, () => {
      assert.equal(
        r.wgResult.status,
        0,
        `stock wg accepts it (keeps the last endpoint): ${r.wgResult.stderr}`,
      );
      assert.equal(r.wgmResult.status, 1, r.wgmResult.stderr);
      assert.equal(r.wgmResult.stdout, '');
      assert.match(r.wgmResult.stderr, /endpoints/);
      assert.match(r.wgmResult.stderr, /kernel/);
      assert.equal(r.yAfter.status, 0);
      assert.equal(r.yAfter.stdout, r.yBefore.stdout, 'the device changed');
      assert.notEqual(r.xAfter.stdout.replaceAll(r.x, r.y), r.yAfter.stdout, 'wg did change its twin');
    });
  }
});
