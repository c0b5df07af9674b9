// `wgm strip X` against `wg-quick strip X` (wg-quick's parse_options and cmd_strip, wireguard-tools
// src/wg-quick/linux.bash): stdout bytes, exit status, and stderr after the program-name mapping,
// over the config corpus in test/fixtures/quick and over the ways of naming a file (bare name,
// path, symlinks, modes, bad names).
//
// WGM_RECORD_QUICK=1 rewrites test/fixtures/quick/expected.json from wg-quick; the golden test
// (test/unit/quick/strip-golden.test.ts) holds wgm to it where wg-quick or root is missing.

import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { need, ROOT, type RunResult, run, WGM, wgm } from '../lib/run.js';

const FIXTURES = join(ROOT, 'test/fixtures/quick');
const GOLDEN = join(FIXTURES, 'expected.json');

/**
 * wg-quick's stderr as wgm words it: `wg-quick` → `wgm` in its own messages and usage, and
 * bash's `/usr/bin/wg-quick: line N: ` prefix (a failed read or open) → `wgm: `.
 */
export function mapStderr(s: string): string {
  return s
    .replace(/^\/usr\/bin\/wg-quick: line \d+: /gm, 'wgm: ')
    .replace(/^wg-quick: /gm, 'wgm: ')
    .replace(/^Usage: wg-quick /gm, 'Usage: wgm ')
    .replace(/which are handled by wg-quick:$/m, 'which are handled by wgm:');
}

/** stderr as text: wg-quick's bytes and wgm's may differ only where the bytes are not UTF-8. */
const errText = (r: RunResult) => Buffer.from(r.stderr, 'latin1').toString('utf8');

interface Outcome {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

function both(arg: string[], cwd: string): { ours: Outcome; theirs: Outcome; rawTheirs: string } {
  const o = wgm(['strip', ...arg], { cwd });
  const q = run('wg-quick', ['strip', ...arg], { cwd, timeoutMs: 60_000 });
  return {
    ours: { status: o.status, stdout: o.stdoutBytes, stderr: errText(o) },
    theirs: { status: q.status, stdout: q.stdoutBytes, stderr: mapStderr(errText(q)) },
    rawTheirs: errText(q),
  };
}

function same(arg: string[], cwd: string, label = arg.join(' ')): Outcome {
  const { ours, theirs } = both(arg, cwd);
  assert.equal(ours.status, theirs.status, `${label}: exit status`);
  assert.equal(ours.stderr, theirs.stderr, `${label}: stderr`);
  assert.ok(ours.stdout.equals(theirs.stdout), `${label}: stdout bytes differ`);
  return theirs;
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  return dir;
}

test('the stderr mapping is needed and is all that differs', (t) => {
  if (!need(t, { root: true, commands: ['wg-quick'] })) return;
  const dir = tempDir('wgm-strip-map-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'wgm0.conf'), '[Interface]\nSaveConfig = yes\n', { mode: 0o600 });
  const { ours, rawTheirs } = both(['./wgm0.conf'], dir);
  assert.equal(rawTheirs, "wg-quick: `yes' is neither true nor false\n");
  assert.equal(ours.stderr, "wgm: `yes' is neither true nor false\n");
  assert.equal(mapStderr(rawTheirs), ours.stderr);
  const usage = both([], dir);
  assert.match(usage.rawTheirs, /^Usage: wg-quick \[ up/);
  assert.match(usage.ours.stderr, /^Usage: wgm \[ up/);
});

test('corpus: every fixture strips as wg-quick strips it', async (t) => {
  if (!need(t, { root: true, commands: ['wg-quick'] })) return;
  const dir = tempDir('wgm-strip-corpus-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const names = readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.conf'))
    .sort();
  assert.ok(names.length >= 50, `only ${names.length} fixtures`);
  const golden: Record<string, { status: number | null; stdout: string; stderr: string }> = {};
  for (const name of names) {
    await t.test(name, () => {
      writeFileSync(join(dir, 'wgfix.conf'), readFileSync(join(FIXTURES, name)), { mode: 0o600 });
      const theirs = same(['./wgfix.conf'], dir, name);
      golden[name] = {
        status: theirs.status,
        stdout: theirs.stdout.toString('base64'),
        stderr: theirs.stderr,
      };
    });
  }
  if (process.env['WGM_RECORD_QUICK'] === '1') writeFileSync(GOLDEN, `${JSON.stringify(golden, null, 2)}\n`);
  // The recorded answers are still wg-quick's.
  assert.deepEqual(golden, JSON.parse(readFileSync(GOLDEN, 'utf8')));
});

test('paths: names, .conf rules, symlinks, directories, missing files, usage', async (t) => {
  if (!need(t, { root: true, commands: ['wg-quick'] })) return;
  const dir = tempDir('wgm-strip-paths-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = '[Interface]\nAddress = 10.0.0.1/32\nPrivateKey = x\n';
  const put = (name: string, mode = 0o600) => writeFileSync(join(dir, name), conf, { mode });
  put('wgp.conf');
  put('x.txt');
  put('a23456789012345.conf');
  put('a234567890123456.conf');
  put('a=b+c_d-e.f.conf');
  put('wgp.conf.conf');
  symlinkSync('x.txt', join(dir, 'wgl.conf'));
  symlinkSync('wgp.conf', join(dir, 'link.txt'));
  symlinkSync('missing.conf', join(dir, 'broken.conf'));
  symlinkSync('wgl.conf', join(dir, 'wgchain.conf'));
  mkdirSync(join(dir, 'real'), { mode: 0o755 });
  writeFileSync(join(dir, 'real/wgd.conf'), conf, { mode: 0o644 });
  symlinkSync('real', join(dir, 'dirlink'));
  mkdirSync(join(dir, 'wgdir.conf'));
  mkdirSync(join(dir, 'sub'));
  put('nl\n.conf');
  mkdirSync(join(dir, 'dir é'), { mode: 0o755 });
  writeFileSync(join(dir, 'dir é/wgp.conf'), conf, { mode: 0o604 });
  const cases: string[][] = [
    ['./wgp.conf'],
    [join(dir, 'wgp.conf')],
    ['sub/../wgp.conf'],
    ['./a23456789012345.conf'],
    ['./a234567890123456.conf'],
    ['./a=b+c_d-e.f.conf'],
    ['./x.txt'],
    ['./wgp.conf.conf'],
    ['./wgl.conf'],
    ['./link.txt'],
    ['./broken.conf'],
    ['./wgchain.conf'],
    ['dirlink/wgd.conf'],
    ['./wgdir.conf'],
    ['./nope.conf'],
    ['wgp.conf'], // a bare name, even with .conf: /etc/wireguard/wgp.conf.conf
    ['wgp'],
    ['bad name'],
    ['a234567890123456'],
    ['wgp\n'],
    ['./nl\n.conf'],
    ['./dir é/wgp.conf'],
    [''],
    [],
    ['./wgp.conf', 'extra'],
  ];
  for (const c of cases) await t.test(JSON.stringify(c), () => void same(c, dir));
});

test('permission modes: file 0600/0644/0604 in directory 0700/0755/0701', async (t) => {
  if (!need(t, { root: true, commands: ['wg-quick'] })) return;
  const dir = tempDir('wgm-strip-modes-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'wgm.conf'), '[Interface]\nDNS = 1.1.1.1\n');
  let warned = 0;
  for (const f of [0o600, 0o644, 0o604])
    for (const d of [0o700, 0o755, 0o701]) {
      await t.test(`${f.toString(8)} in ${d.toString(8)}`, () => {
        chmodSync(join(dir, 'wgm.conf'), f);
        chmodSync(dir, d);
        try {
          if (same([join(dir, 'wgm.conf')], '/').stderr.includes('world accessible')) warned++;
        } finally {
          chmodSync(dir, 0o700);
        }
      });
    }
  assert.equal(warned, 2, '0644 and 0604 in 0755 warn, nothing else');
});

test('/etc/wireguard/NAME.conf: the bare-name form and the NAME.conf quirk', async (t) => {
  if (!need(t, { root: true, commands: ['wg-quick'] })) return;
  const base = `wgmq${process.pid % 100000}`;
  const made = [`/etc/wireguard/${base}.conf`, `/etc/wireguard/${base}.conf.conf`];
  const hadDir = existsSync('/etc/wireguard');
  if (!hadDir) mkdirSync('/etc/wireguard', { mode: 0o700 });
  t.after(() => {
    for (const f of made) rmSync(f, { force: true });
    if (!hadDir) rmSync('/etc/wireguard', { recursive: true, force: true });
  });
  await t.test('missing', () => void same([base], '/'));
  writeFileSync(made[0]!, '[Interface]\nAddress = 10.9.0.1/24\n[Peer]\nEndpoint = 192.0.2.1:1\n', {
    mode: 0o600,
  });
  await t.test('present', () => void same([base], '/'));
  await t.test('quirk missing', () => void same([`${base}.conf`], '/'));
  writeFileSync(made[1]!, '[Interface]\nMTU = 1280\n# the .conf.conf file\n', { mode: 0o644 });
  await t.test('quirk present', () => {
    const r = same([`${base}.conf`], '/');
    assert.equal(r.stdout.toString(), '[Interface]\n# the .conf.conf file\n\n');
  });
});

test('a caller who may not read the file gets a plain error, not a sudo prompt', (t) => {
  // wgm strip runs as its caller (src/cli/strip.ts says why); run it as nobody.
  if (!need(t, { root: true, commands: ['setpriv'] })) return;
  const dir = tempDir('wgm-strip-user-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'wgu.conf'), '[Interface]\nMTU = 1\n', { mode: 0o600 });
  writeFileSync(join(dir, 'wgr.conf'), '[Interface]\nMTU = 1\n', { mode: 0o644 });
  const asNobody = (arg: string) =>
    run(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, WGM, 'strip', arg],
      {
        env: { ...process.env, SUDO_ASKPASS: '/bin/false' },
      },
    );
  const denied = asNobody(join(dir, 'wgu.conf'));
  assert.equal(denied.stdout, '');
  assert.equal(denied.stderr, `wgm: ${join(dir, 'wgu.conf')}: Permission denied\n`);
  assert.equal(denied.status, 1);
  const name = `wgmq${process.pid % 100000}`;
  if (existsSync('/etc/wireguard') && (statSync('/etc/wireguard').mode & 0o001) === 0) {
    const dirDenied = asNobody(name);
    assert.equal(dirDenied.stderr, `wgm: /etc/wireguard/${name}.conf: Permission denied\n`);
    assert.equal(dirDenied.status, 1);
  }
  const readable = asNobody(join(dir, 'wgr.conf'));
  assert.equal(readable.stdout, '[Interface]\n\n');
  assert.equal(readable.stderr, `Warning: \`${join(dir, 'wgr.conf')}' is world accessible\n`);
  assert.equal(readable.status, 0);
});
