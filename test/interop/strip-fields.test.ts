// parseQuickConfig against wg-quick's own parse_options, field by field.
//
// The oracle is the installed /usr/bin/wg-quick: its die, read_bool and parse_options
// functions are cut out of the script and run in bash on each config, and every variable they
// set is printed NUL-separated. `set -f` turns off pathname expansion in the oracle, the one
// thing wgm deliberately does not reproduce (see src/config/quick.ts). The oracle itself is
// checked against a real `wg-quick strip` run, so it cannot drift from the real thing.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseQuickConfig, type QuickConfig } from '../../src/config/quick.js';
import { isWgError } from '../../src/model/errors.js';
import { xorshift32 } from '../lib/rng.js';
import { need, ROOT, run } from '../lib/run.js';

const FIXTURES = join(ROOT, 'test/fixtures/quick');

const ORACLE = [
  'set -e -o pipefail',
  'shopt -s extglob',
  'export LC_ALL=C',
  'WG_CONFIG=""; INTERFACE=""; ADDRESSES=( ); MTU=""; DNS=( ); DNS_SEARCH=( ); TABLE=""',
  'PRE_UP=( ); POST_UP=( ); PRE_DOWN=( ); POST_DOWN=( ); SAVE_CONFIG=0; CONFIG_FILE=""; PROGRAM=wg-quick',
  `eval "$(sed -n '/^parse_options() {/,/^}/p; /^read_bool() {/,/^}/p' /usr/bin/wg-quick)"`,
  'declare -F parse_options read_bool >/dev/null',
  'emit() { local n=$1 x; shift; printf \'%s\\0%d\\0\' "$n" "$#"; for x in "$@"; do printf \'%s\\0\' "$x"; done; }',
  'die() { emit DIE "$*"; exit 1; }',
  'set -f',
  'for f; do',
  '  ( parse_options "$f" 2>/dev/null',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions, not a template
  '    emit A "${ADDRESSES[@]}"; emit D "${DNS[@]}"; emit S "${DNS_SEARCH[@]}"',
  '    emit M "$MTU"; emit T "$TABLE"; emit C "$SAVE_CONFIG"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions, not a template
  '    emit PU "${PRE_UP[@]}"; emit OU "${POST_UP[@]}"; emit PD "${PRE_DOWN[@]}"; emit OD "${POST_DOWN[@]}"',
  '    emit W "$WG_CONFIG" ) || true',
  "  printf 'END\\0'",
  'done',
].join('\n');

type Fields = Map<string, string[]>;

/** Runs the oracle over the files; one map of variable → values (byte strings) per file. */
function oracle(files: string[], cwd: string): Fields[] {
  const r = run('bash', ['-c', ORACLE, 'oracle', ...files], { cwd });
  assert.equal(r.status, 0, r.stderr);
  const tokens = r.stdoutBytes.toString('latin1').split('\0');
  const out: Fields[] = [];
  let cur: Fields = new Map();
  for (let i = 0; i < tokens.length - 1; ) {
    const name = tokens[i++]!;
    if (name === 'END') {
      out.push(cur);
      cur = new Map();
      continue;
    }
    const n = Number(tokens[i++]);
    cur.set(name, tokens.slice(i, i + n));
    i += n;
  }
  assert.equal(out.length, files.length);
  return out;
}

const text = (byteString: string) => Buffer.from(byteString, 'latin1').toString('utf8');

/** Ours in the oracle's shape. */
function ours(bytes: Buffer): Fields {
  let q: QuickConfig;
  try {
    q = parseQuickConfig(bytes);
  } catch (e) {
    assert.ok(isWgError(e));
    return new Map([['DIE', [e.message]]]);
  }
  return new Map([
    ['A', q.addresses],
    ['D', q.dns],
    ['S', q.dnsSearch],
    ['M', [q.mtu ?? '']],
    ['T', [q.table ?? '']],
    ['C', [q.saveConfig ? '1' : '0']],
    ['PU', q.preUp],
    ['OU', q.postUp],
    ['PD', q.preDown],
    ['OD', q.postDown],
    ['W', [q.wgConfig.toString('latin1')]],
  ]);
}

function theirs(f: Fields): Fields {
  // Text fields are compared as text (UTF-8), the kept lines as bytes.
  return new Map([...f].map(([k, v]) => [k, k === 'W' ? v : v.map(text)]));
}

/** Compares every file with the oracle; returns our fields, for coverage checks. */
function compareAll(dir: string, names: string[], label: (i: number) => string): Fields[] {
  const cwd = mkdtempSync(join(tmpdir(), 'wgm-quick-oracle-cwd-'));
  try {
    const expected = oracle(
      names.map((n) => join(dir, n)),
      cwd,
    );
    return names.map((n, i) => {
      const got = ours(readFileSync(join(dir, n)));
      assert.deepEqual(got, theirs(expected[i]!), label(i));
      return got;
    });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

function copyFixtures(dir: string): string[] {
  const names: string[] = [];
  for (const f of readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.conf'))
    .sort()) {
    const name = `f${names.length}.conf`;
    writeFileSync(join(dir, name), readFileSync(join(FIXTURES, f)), { mode: 0o600 });
    names.push(name);
  }
  return names;
}

test('every fixture: each field equals what wg-quick’s parse_options sets', (t) => {
  if (!need(t, { root: true, commands: ['wg-quick', 'bash'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'wgm-quick-fields-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fixtureNames = readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.conf'))
    .sort();
  const names = copyFixtures(dir);
  assert.ok(names.length >= 50, `${names.length} fixtures`);
  compareAll(dir, names, (i) => fixtureNames[i]!);
});

const KEYS = ['Address', 'DNS', 'MTU', 'Table', 'PreUp', 'PostUp', 'PreDown', 'PostDown', 'SaveConfig'];
const BITS = [
  ...['[Interface]', '[interface]', '[Peer]', '[', ' [Interface] ', 'Endpoint', 'PrivateKey'],
  ...['=', '#', ',', ' ', '\t', '\r', '\v', '\f', '\0', '\\', '"', "'", '$x', '%i', '*', '[a]'],
  ...[
    'true',
    'FALSE',
    'off',
    'auto',
    '1420',
    '10.0.0.1/32',
    'fd00::1',
    'example.com',
    '1.1.1.1',
    '10.2',
    '::1',
    '\u00e9',
  ],
];

function randomConfig(next: () => number): Buffer {
  const pick = <T>(a: T[]) => a[Math.floor(next() * a.length)]!;
  const parts: string[] = next() < 0.5 ? ['[Interface]'] : [];
  const lines = Math.floor(next() * 12);
  for (let l = 0; l < lines; l++) {
    const r = next();
    if (r < 0.15) parts.push(pick(['[Interface]', '[INTERFACE]', '[Peer]', ' [Interface]\t']));
    else if (r < 0.65) {
      const key = next() < 0.3 ? pick(KEYS).toUpperCase() : pick(KEYS);
      let v = '';
      for (let k = Math.floor(next() * 5); k > 0; k--) v += pick(BITS) + pick(['', ' ', ',', ', ']);
      if (/^saveconfig$/i.test(key) && next() < 0.6)
        v = pick(['true', 'TRUE', 'False', 'true # c', 'false\r']);
      parts.push(`${pick(['', ' ', '\t'])}${key}${pick([' = ', '=', ' =', '\v=', ''])}${v}`);
    } else {
      let v = '';
      for (let k = Math.floor(next() * 6); k > 0; k--)
        v += next() < 0.2 ? String.fromCharCode(1 + Math.floor(next() * 255)) : pick(BITS);
      parts.push(v);
    }
  }
  let s = parts.join(next() < 0.2 ? '\r\n' : '\n');
  if (next() < 0.7) s += '\n';
  // Byte strings: \u00e9 and the random chars become single (often non-UTF-8) bytes.
  return Buffer.from(s, 'latin1');
}

test('600 random configs: every field equals the oracle’s; the oracle equals wg-quick strip', (t) => {
  if (!need(t, { root: true, commands: ['wg-quick', 'bash'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'wgm-quick-random-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const next = xorshift32(0x0dd_5eed);
  const names: string[] = [];
  for (let i = 0; i < 600; i++) {
    const name = `r${i}.conf`;
    writeFileSync(join(dir, name), randomConfig(next), { mode: 0o600 });
    names.push(name);
  }
  const got = compareAll(dir, names, (i) => `random case ${i}`);
  // The generator reaches every branch: errors, and each kind of field filled in.
  const count = (f: (x: Fields) => boolean) => got.filter(f).length;
  assert.ok(count((x) => x.has('DIE')) >= 10, 'SaveConfig errors');
  for (const k of ['A', 'D', 'S', 'PU', 'OU', 'PD', 'OD'])
    assert.ok(
      count((x) => (x.get(k)?.length ?? 0) > 0) >= 10,
      `field ${k}: ${count((x) => (x.get(k)?.length ?? 0) > 0)}`,
    );
  assert.ok(count((x) => x.get('C')?.[0] === '1') >= 10, 'SaveConfig = true');
  assert.ok(count((x) => (x.get('M')?.[0] ?? '') !== '') >= 10, 'MTU');
  // The oracle is wg-quick: for a sample, its kept lines plus echo's newline are strip's stdout.
  const sample = names.filter((_, i) => i % 20 === 0);
  const expected = oracle(
    sample.map((n) => join(dir, n)),
    dir,
  );
  sample.forEach((n, i) => {
    const real = run('wg-quick', ['strip', join(dir, n)]);
    const w = expected[i]!.get('W');
    if (w) assert.equal(real.stdout, `${w[0]}\n`, n);
    else assert.equal(real.status, 1, n);
  });
});
