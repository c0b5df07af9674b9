// Live: two wireguard-go devices in a pair of private network namespaces, configured with
// stock wg, with a handshake and traffic (ping over the tunnel); then every form of `wg show`
// and `wg showconf` against `wgm` on the same devices. Outputs that move with the clock or the
// counters are taken back to back within one second, and retried a few times if a keepalive or
// the second boundary got in between.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runAsync } from '../lib/fake-uapi.js';
import { need, run, WGM } from '../lib/run.js';
import { WG_SHOW_FIELDS as FIELDS } from '../lib/show-fields.js';

const ID = process.pid % 100000;
const NS = [`uapi${ID}a`, `uapi${ID}b`];
const IF = [`ua${ID}a`, `ua${ID}b`];
const VETH = [`uv${ID}a`, `uv${ID}b`];

function sh(cmd: string, args: string[]): string {
  const r = run(cmd, args, { timeoutMs: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Keeps the blocks (pretty) or lines (fields) of our interfaces only: the socket dir is shared with other tests. */
function ours(text: string, pretty: boolean): string {
  if (!pretty)
    return text
      .split('\n')
      .filter((l) => IF.some((i) => l.startsWith(`${i}\t`)))
      .join('\n');
  return text
    .split(/\n(?=(?:\x1b\[0m)?(?:\x1b\[32m\x1b\[1m)?interface)/)
    .filter((b) =>
      IF.some((i) => b.includes(`interface\x1b[0m: \x1b[32m${i}\x1b`) || b.startsWith(`interface: ${i}\n`)),
    )
    .map((b) => b.replace(/\n+$/, ''))
    .join('\n---\n');
}

/**
 * wireguard-go returns peers in Go map order, random on every call (device/uapi.go,
 * IpcGetOperation): outputs in backend order are compared as sets of lines (showconf: of peer
 * blocks). Pretty output is sorted by wg's rules and compared as is.
 */
function unordered(text: string, args: string[]): string {
  if (args[0] === 'showconf') {
    const [head, ...peers] = text.split('\n\n');
    return [head, ...peers.map((p) => p.replace(/\n$/, '')).sort()].join('\n\n');
  }
  const pretty = args.length < 3;
  return pretty ? text : text.split('\n').sort().join('\n');
}

test('live wireguard-go pair: wgm show/showconf print what wg prints', async (t) => {
  if (!need(t, { root: true, commands: ['wg', 'wireguard-go', 'ip', 'ping'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'wgm-uapi-live-'));
  const daemons: ChildProcess[] = [];
  t.after(() => {
    for (const d of daemons) d.kill('SIGKILL');
    for (const ns of NS) run('ip', ['netns', 'del', ns]);
    for (const i of IF) rmSync(`/var/run/wireguard/${i}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  for (const ns of NS) {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  sh('ip', [
    'link',
    'add',
    VETH[0]!,
    'netns',
    NS[0]!,
    'type',
    'veth',
    'peer',
    'name',
    VETH[1]!,
    'netns',
    NS[1]!,
  ]);
  const keys: string[] = [];
  const pubs: string[] = [];
  for (let i = 0; i < 2; i++) {
    sh('ip', ['-n', NS[i]!, 'addr', 'add', `172.31.${ID % 250}.${i + 1}/24`, 'dev', VETH[i]!]);
    sh('ip', ['-n', NS[i]!, 'addr', 'add', `fd31::${i + 1}/64`, 'dev', VETH[i]!, 'nodad']);
    sh('ip', ['-n', NS[i]!, 'link', 'set', VETH[i]!, 'up']);
    const d = spawn('ip', ['netns', 'exec', NS[i]!, 'wireguard-go', '-f', IF[i]!], { stdio: 'ignore' });
    daemons.push(d);
    const key = sh('wg', ['genkey']).trim();
    keys.push(key);
    writeFileSync(join(dir, `k${i}`), `${key}\n`, { mode: 0o600 });
    pubs.push(run('wg', ['pubkey'], { input: key }).stdout.trim());
  }
  for (const i of IF)
    await waitFor(() => existsSync(`/var/run/wireguard/${i}.sock`), 10_000, `${i}'s socket`);
  writeFileSync(join(dir, 'psk'), `${sh('wg', ['genpsk']).trim()}\n`, { mode: 0o600 });
  const spare = run('wg', ['pubkey'], { input: sh('wg', ['genkey']) }).stdout.trim();
  // A: fwmark, a PSK, IPv6 endpoint; B: keepalive, several prefixes, a second peer that never handshakes.
  sh('wg', [
    'set',
    IF[0]!,
    'listen-port',
    '51820',
    'fwmark',
    '0x1234',
    'private-key',
    join(dir, 'k0'),
    'peer',
    pubs[1]!,
    'preshared-key',
    join(dir, 'psk'),
    'endpoint',
    '[fd31::2]:51821',
    'allowed-ips',
    '10.77.0.2/32,fd77::2/128',
  ]);
  sh('wg', [
    'set',
    IF[1]!,
    'listen-port',
    '51821',
    'private-key',
    join(dir, 'k1'),
    'peer',
    pubs[0]!,
    'preshared-key',
    join(dir, 'psk'),
    'endpoint',
    `172.31.${ID % 250}.1:51820`,
    'persistent-keepalive',
    '25',
    'allowed-ips',
    '10.77.0.1/32,10.88.0.0/16,::2:3/128',
    'peer',
    spare,
    'allowed-ips',
    '10.99.0.0/24',
  ]);
  for (let i = 0; i < 2; i++) {
    sh('ip', ['-n', NS[i]!, 'addr', 'add', `10.77.0.${i + 1}/24`, 'dev', IF[i]!]);
    sh('ip', ['-n', NS[i]!, 'link', 'set', IF[i]!, 'up']);
  }
  const ping = run('ip', ['netns', 'exec', NS[0]!, 'ping', '-c', '3', '-i', '0.2', '-W', '3', '10.77.0.2'], {
    timeoutMs: 20_000,
  });
  assert.equal(ping.status, 0, `ping over the tunnel: ${ping.stdout}${ping.stderr}`);

  const forms: Array<{ args: string[]; env: Record<string, string>; filter?: 'pretty' | 'lines' }> = [];
  for (const i of IF) {
    forms.push({ args: ['show', i], env: { WG_COLOR_MODE: 'always', WG_HIDE_KEYS: 'never' } });
    forms.push({ args: ['show', i], env: { WG_COLOR_MODE: 'never' } });
    for (const f of FIELDS) forms.push({ args: ['show', i, f], env: {} });
    forms.push({ args: ['showconf', i], env: {} });
  }
  forms.push({ args: ['show', 'all'], env: { WG_COLOR_MODE: 'always' }, filter: 'pretty' });
  forms.push({ args: ['show'], env: { WG_COLOR_MODE: 'never' }, filter: 'pretty' });
  for (const f of FIELDS.filter((x) => x !== 'endpoints'))
    forms.push({ args: ['show', 'all', f], env: {}, filter: 'lines' });

  let compared = 0;
  for (const form of forms) {
    const env = { ...process.env, ...form.env };
    let last: [string, string] = ['', ''];
    // Outputs with "ago" texts or counters move with time (and B's keepalive): take them within one second.
    const moving =
      form.filter !== undefined ||
      form.args.length < 3 ||
      ['latest-handshakes', 'transfer', 'dump'].includes(form.args[2]!);
    for (let attempt = 0; attempt < 8; attempt++) {
      if (moving) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      const s0 = Math.floor(Date.now() / 1000);
      const w = await runAsync('wg', form.args, { env });
      const m = await runAsync(process.execPath, [WGM, ...form.args], { env });
      // Other tests' daemons come and go in the shared socket dir: with `all`, only ours count.
      const errs = (e: string) =>
        form.filter
          ? e
              .split('\n')
              .filter((l) => IF.some((i) => l.includes(i)))
              .join('\n')
          : e;
      assert.equal(errs(m.stderr), errs(w.stderr), `stderr of ${form.args.join(' ')}`);
      if (!form.filter) assert.equal(m.status, w.status, `exit status of ${form.args.join(' ')}`);
      const pick = (s: string) => unordered(form.filter ? ours(s, form.filter === 'pretty') : s, form.args);
      last = [pick(w.stdout), pick(m.stdout)];
      if (!moving || (Math.floor(Date.now() / 1000) === s0 && last[0] === last[1])) break;
    }
    assert.ok(last[0].length > 0, `wg printed something for ${form.args.join(' ')}`);
    assert.equal(last[1], last[0], `stdout of ${form.args.join(' ')} ${JSON.stringify(form.env)}`);
    compared++;
  }
  t.diagnostic(`compared ${compared} forms on a live pair`);
  // The live state had what the comparison is about.
  const dump = run('wg', ['show', IF[0]!, 'dump']).stdout;
  assert.match(
    dump,
    /\t[1-9][0-9]*\t[1-9][0-9]*\t[1-9][0-9]*\toff\n/,
    'a handshake and traffic in both directions',
  );
});
