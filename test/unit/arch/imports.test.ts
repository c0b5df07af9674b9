// Keeps the import directions of docs/architecture.md ("Source layout and import directions")
// true, by walking the import graph of src/. A folder may import itself, the model (a leaf everybody shares) and what its arrow
// names; the table below is that list of arrows, with no exceptions.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../lib/run.js';

const SRC = join(ROOT, 'src');

const ALLOWED: Record<string, string[]> = {
  model: [],
  crypto: [],
  sys: [],
  config: ['crypto'],
  uapi: ['crypto'],
  'engine/core': ['crypto'],
  engine: ['engine/core', 'uapi', 'crypto', 'sys'],
  backend: ['uapi', 'sys'],
  quick: ['backend', 'config', 'sys'],
  cli: ['config', 'backend', 'quick', 'crypto'],
  bin: ['cli', 'engine'],
};

/** Node modules the clock-free, I/O-free engine core must not touch. */
const CORE_FORBIDDEN_NODE = [
  'node:dgram',
  'node:net',
  'node:fs',
  'node:timers',
  'node:child_process',
  'node:worker_threads',
];
const CORE_FORBIDDEN_CALLS = [
  /\bDate\.now\(/,
  /\bperformance\.now\(/,
  /\bnew Date\(\)/,
  /\bprocess\.hrtime/,
  /\bsetTimeout\(/,
  /\bsetInterval\(/,
];

function layerOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  if (rel[0] === 'engine' && rel[1] === 'core') return 'engine/core';
  return rel[0]!;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

test('every import in src/ follows the layer directions', () => {
  const violations: string[] = [];
  let files = 0;
  for (const file of walk(SRC)) {
    files++;
    const from = layerOf(file);
    assert.ok(from in ALLOWED, `${relative(ROOT, file)} is in an unknown layer '${from}'`);
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      const to = layerOf(target);
      if (to === from || to === 'model') continue;
      if (from === 'engine' && to === 'engine/core') continue;
      if (!ALLOWED[from]!.includes(to))
        violations.push(`${relative(ROOT, file)} imports ${spec} (${from} → ${to})`);
    }
  }
  assert.ok(files > 0);
  assert.deepEqual(violations, []);
});

test('the engine core does no I/O and reads no clock', () => {
  const violations: string[] = [];
  for (const file of walk(SRC)) {
    if (layerOf(file) !== 'engine/core') continue;
    const text = readFileSync(file, 'utf8');
    for (const spec of importsOf(file)) {
      const bare = spec.startsWith('node:') ? spec : `node:${spec}`;
      if (CORE_FORBIDDEN_NODE.some((f) => bare === f || bare.startsWith(`${f}/`)))
        violations.push(`${relative(ROOT, file)} imports ${spec}`);
    }
    for (const re of CORE_FORBIDDEN_CALLS)
      if (re.test(text)) violations.push(`${relative(ROOT, file)} uses ${re.source}`);
  }
  assert.deepEqual(violations, []);
});

test('the checker itself sees a violation when there is one', () => {
  // A layer table that forbids what src/cli really does must report it: the test can fail.
  const file = join(SRC, 'cli/pubkey.ts');
  const targets = importsOf(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => layerOf(resolve(dirname(file), s)));
  assert.ok(
    targets.includes('crypto'),
    'cli/pubkey.ts imports crypto, so a table without that arrow would flag it',
  );
});
