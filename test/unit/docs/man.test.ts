// The man pages: they render without a warning, and they keep up with the code. Each test that
// compares a page with the code fails when the code grows (a verb in commands.ts, an option in a
// verb's usage, an environment variable read by src/, a wg-quick key handled in src/config, a
// UAPI extension key in src/uapi) and the page does not.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { VERBS } from '../../../src/cli/commands.js';
import { deviceJson } from '../../../src/cli/show-json.js';
import { keyFromBase64 } from '../../../src/crypto/keys.js';
import { newDevice, newPeer } from '../../../src/model/index.js';
import { need, ROOT, run } from '../../lib/run.js';
import { SHOW_FIELDS } from './fixture.js';

const PAGES = ['man/wgm.8', 'man/wgm.conf.5', 'man/wgm-engine.8'];

/** Plain text, one long line per paragraph, typographic quotes and dashes made ASCII. */
function render(page: string): string {
  const r = run('groff', ['-man', '-Tutf8', '-P-cbou', '-rLL=250n', join(ROOT, page)]);
  assert.equal(r.status, 0, r.stderr);
  return Buffer.from(r.stdoutBytes)
    .toString('utf8')
    .replace(/[\u2010\u2011\u2212]/g, '-')
    .replace(/[\u2018\u2019]/g, (c) => (c === '\u2018' ? '`' : "'"));
}

/** Headings (lines at column 0) and their text. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = '';
  for (const line of text.split('\n')) {
    if (/^[A-Z][A-Z .-]*$/.test(line)) {
      name = line;
      out.set(name, '');
    } else if (name) {
      out.set(name, `${out.get(name)}${line}\n`);
    }
  }
  return out;
}

function section(text: string, name: string): string {
  const s = sections(text).get(name);
  assert.ok(s !== undefined, `section ${name} exists`);
  return s;
}

/** Tags of tagged paragraphs: lines indented by exactly 7 spaces in a section. */
function tags(body: string): string[] {
  return body
    .split('\n')
    .filter((l) => /^ {7}\S/.test(l))
    .map((l) => l.trim());
}

function* sourceFiles(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sourceFiles(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

/** Environment variables a part of src/ reads (env['X'], env.X, getenv-style helpers taking 'X'). */
function envReads(dirs: string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const d of dirs) {
    const full = join(ROOT, 'src', d);
    const files = full.endsWith('.ts') ? (existsSync(full) ? [full] : []) : [...sourceFiles(full)];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(
        /\benv(?:\?\.|\.)?(?:\[\s*['"]([A-Z][A-Z0-9_]+)['"]\s*\]|\.([A-Z][A-Z0-9_]+)\b)/g,
      )) {
        found.set((m[1] ?? m[2])!, relative(ROOT, f));
      }
    }
  }
  return found;
}

test('every page renders without a warning (groff -ww)', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  for (const page of PAGES) {
    const r = run('groff', ['-man', '-Tutf8', '-ww', '-z', join(ROOT, page)]);
    assert.equal(r.status, 0, page);
    assert.equal(r.stderr, '', `${page}: ${r.stderr}`);
  }
});

test('every page passes man --warnings', (t) => {
  if (!need(t, { commands: ['man'] })) return;
  for (const page of PAGES) {
    const r = run('man', ['--warnings', '-l', join(ROOT, page)], {
      env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80', LANG: 'C.UTF-8' },
    });
    assert.equal(r.status, 0, page);
    assert.equal(r.stderr, '', `${page}: ${r.stderr}`);
    assert.ok(r.stdout.length > 1000, `${page} has text`);
  }
});

test('package.json installs the three pages and the completions', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    man: string[];
    files: string[];
  };
  assert.deepEqual([...pkg.man].sort(), [...PAGES].sort());
  for (const p of PAGES) assert.ok(existsSync(join(ROOT, p)), p);
  assert.ok(pkg.files.includes('man') && pkg.files.includes('completions'));
  for (const c of ['wgm.bash', '_wgm', 'wgm.fish']) assert.ok(existsSync(join(ROOT, 'completions', c)), c);
});

test('wgm(8) describes every verb of commands.ts, with every option of its usage', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  const text = render('man/wgm.8');
  const commandTags = tags(section(text, 'COMMANDS'));
  for (const verb of VERBS) {
    assert.ok(
      commandTags.some((tag) => tag === verb.name || tag.startsWith(`${verb.name} `)),
      `COMMANDS has an entry for \`${verb.name}' (commands.ts)`,
    );
    for (const opt of verb.args.match(/--?[a-z][a-z-]*/g) ?? []) {
      assert.ok(text.includes(opt), `wgm.8 mentions ${opt} of \`${verb.name}'`);
    }
    for (const word of verb.args.match(/\b[a-z][a-z-]+(?= <)/g) ?? []) {
      assert.ok(text.includes(word), `wgm.8 mentions keyword ${word} of \`${verb.name}'`);
    }
  }
  const showEntry = section(text, 'COMMANDS');
  for (const field of SHOW_FIELDS)
    assert.match(showEntry, new RegExp(`^ {14}${field} `, 'm'), `show field ${field}`);
});

test('wgm(8) documents every environment variable the CLI side reads', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  const env = section(render('man/wgm.8'), 'ENVIRONMENT');
  const documented = tags(env);
  const required = [
    'WG_COLOR_MODE',
    'NO_COLOR',
    'WG_HIDE_KEYS',
    'WG_ENDPOINT_RESOLUTION_RETRIES',
    'WG_QUICK_USERSPACE_IMPLEMENTATION',
    'WGM_DEBUG',
  ];
  for (const v of required) assert.ok(documented.includes(v), `ENVIRONMENT lists ${v}`);
  for (const [v, file] of envReads(['cli', 'config', 'quick', 'backend', 'uapi', 'bin/wgm.ts'])) {
    assert.ok(documented.includes(v), `${file} reads ${v}, which wgm(8) ENVIRONMENT does not list`);
  }
  // wg ignores NO_COLOR; the page says whether wgm does, and must say what the code does.
  const reads = envReads(['cli']);
  const noColor = env.slice(env.indexOf('NO_COLOR'));
  const saysNotRead = /^\s*NO_COLOR\s+Not read/.test(noColor);
  assert.equal(saysNotRead, !reads.has('NO_COLOR'), 'the NO_COLOR entry of wgm(8) matches src/cli');
});

test('wgm.conf(5) describes every key of wg and wg-quick, in its section', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  const text = render('man/wgm.conf.5');
  const keysOf = (name: string) => tags(section(text, name)).map((tag) => tag.split(' ')[0]!);
  const iface = keysOf('INTERFACE SECTION');
  const peer = keysOf('PEER SECTION');
  // wg's keys (wireguard-tools src/config.c, process_line) and wg-quick's [Interface] additions
  // (parse_options in src/wg-quick/linux.bash).
  for (const k of [
    'PrivateKey',
    'ListenPort',
    'FwMark',
    'Address',
    'DNS',
    'MTU',
    'Table',
    'PreUp',
    'SaveConfig',
  ]) {
    assert.ok(iface.includes(k), `[Interface] key ${k}`);
  }
  assert.match(
    section(text, 'INTERFACE SECTION'),
    /PreUp = command, PostUp = command, PreDown = command, PostDown/,
  );
  for (const k of ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive']) {
    assert.ok(peer.includes(k), `[Peer] key ${k}`);
  }
  // Keys the parsers handle must be documented too: quick.ts switches on lower-cased names,
  // parse.ts compares with asciiEqualsIgnoreCase(key, 'Name'). If a parser changes its style,
  // the scan finds nothing and says so: adapt the patterns here.
  const documented = new Set(
    [...iface, ...peer, 'PostUp', 'PreDown', 'PostDown'].map((k) => k.toLowerCase()),
  );
  const scans: [string, RegExp][] = [
    ['src/config/quick.ts', /case '([a-z]{3,})':/g],
    ['src/config/parse.ts', /\(\s*key\s*,\s*'([A-Za-z]+)'\s*\)/g],
  ];
  for (const [file, pattern] of scans) {
    const p = join(ROOT, file);
    if (!existsSync(p)) continue;
    const found = [...readFileSync(p, 'utf8').matchAll(pattern)].map((m) => m[1]!);
    assert.ok(found.length >= 5, `the key scan of ${file} finds its keys (found ${found.join(', ')})`);
    for (const k of found) {
      assert.ok(
        documented.has(k.toLowerCase()),
        `${file} handles the key \`${k}', which wgm.conf(5) does not describe`,
      );
    }
  }
  const multi = section(text, 'MULTIPLE ENDPOINTS');
  assert.match(multi, /several\s+Endpoint lines/);
  assert.match(multi, /comma/);
  assert.match(multi, /keep only the last/);
});

test('wgm-engine(8) documents its options, environment and every UAPI extension key', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  const text = render('man/wgm-engine.8');
  assert.match(section(text, 'SYNOPSIS'), /wgm-engine \[-f\|--foreground\] INTERFACE/);
  const env = tags(section(text, 'ENVIRONMENT'));
  for (const v of ['LOG_LEVEL', 'WG_PROCESS_FOREGROUND']) assert.ok(env.includes(v), v);
  for (const [v, file] of envReads(['engine', 'bin/wgm-engine.ts'])) {
    assert.ok(env.includes(v), `${file} reads ${v}, which wgm-engine(8) ENVIRONMENT does not list`);
  }
  for (const level of ['verbose', 'debug', 'error', 'silent'])
    assert.match(text, new RegExp(`\\b${level}\\b`));
  const uapi = section(text, 'UAPI');
  const keys = new Set(['wgm_implementation', 'wgm_capabilities', 'wgm_endpoint', 'wgm_replace_endpoints']);
  for (const f of sourceFiles(join(ROOT, 'src/uapi'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bwgm_[a-z_]+[a-z]\b/g)) keys.add(m[0]);
  }
  for (const k of keys)
    assert.match(uapi, new RegExp(`^ {7}${k}=`, 'm'), `UAPI key ${k} (src/uapi) is described`);
  for (const state of ['active', 'standby', 'probing', 'failed', 'unknown'])
    assert.ok(uapi.includes(state), state);
  assert.ok(uapi.includes('multi_endpoint'));
});

test('cross references between the pages point at pages that exist', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  for (const page of PAGES) {
    for (const m of render(page).matchAll(/\b(wgm[a-z.-]*)\((\d)\)/g)) {
      assert.ok(existsSync(join(ROOT, 'man', `${m[1]}.${m[2]}`)), `${page} refers to ${m[0]}`);
    }
  }
});

test('the keys in the examples are canonical WireGuard keys', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  const text = render('man/wgm.conf.5') + render('man/wgm.8');
  const keys = [...text.matchAll(/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=/g)].map((m) => m[0]);
  assert.ok(keys.length >= 5, 'the pages show keys');
  for (const k of keys) assert.ok(keyFromBase64(k) !== undefined, `${k} is a valid key`);
});

test('wgm(8) JSON OUTPUT names every member that show --json prints', (t) => {
  if (!need(t, { commands: ['groff'] })) return;
  const json = section(render('man/wgm.8'), 'JSON OUTPUT');
  const addr = { family: 4 as const, address: '192.0.2.1', port: 51820 };
  const peer = newPeer({
    endpointStates: [{ addr, state: 'active', rttMs: 1, lastSeenSec: 1 }],
    activeEndpoint: addr,
  });
  const doc = deviceJson(newDevice({ peers: [peer] }), 'wg0') as Record<string, unknown>;
  const members = (o: object) => Object.keys(o);
  const p = (doc['peers'] as Record<string, unknown>[])[0]!;
  const c = (p['candidates'] as Record<string, unknown>[])[0]!;
  for (const m of [...members(doc), ...members(p)]) {
    assert.match(json, new RegExp(`^ +(\\S+, )*${m}(,|$| )`, 'm'), `member ${m} of show --json is described`);
  }
  for (const m of members(c)) assert.ok(json.includes(`"${m}"`), `candidate member ${m} is described`);
});
