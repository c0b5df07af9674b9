// systemd/wgm@.service: the shape of the installed wg-quick@.service (ordering, dependencies,
// Type, RemainAfterExit, environment, install target) with wgm's commands, and a unit that
// systemd itself accepts (systemd-analyze verify, when the host has it).

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, run, WGM, which } from '../../lib/run.js';

const UNIT = join(ROOT, 'systemd/wgm@.service');
const STOCK = ['/lib/systemd/system/wg-quick@.service', '/usr/lib/systemd/system/wg-quick@.service'].find(
  existsSync,
);

type Unit = Map<string, Map<string, string[]>>;

/** Sections → keys → every value, in order (systemd's repeated keys add up). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `a key line inside a section: ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

const get = (u: Unit, s: string, k: string) => u.get(s)?.get(k) ?? [];

test('wgm@.service has wg-quick@.service shape, with wgm up/down/reload', (t) => {
  if (!STOCK) {
    t.skip('needs wg-quick@.service (wireguard-tools) to compare with');
    return;
  }
  const mine = parseUnit(readFileSync(UNIT, 'utf8'));
  const stock = parseUnit(readFileSync(STOCK, 'utf8'));
  assert.deepEqual([...mine.keys()], [...stock.keys()]);
  for (const [s, k] of [
    ['Unit', 'After'],
    ['Unit', 'Wants'],
    ['Service', 'Type'],
    ['Service', 'RemainAfterExit'],
    ['Service', 'Environment'],
    ['Install', 'WantedBy'],
  ] as const) {
    assert.deepEqual(get(mine, s, k), get(stock, s, k), `${s}.${k}`);
  }
  assert.deepEqual(get(mine, 'Unit', 'PartOf'), ['wgm.target']);
  assert.ok(existsSync(join(ROOT, 'systemd/wgm.target')));
  // The stock commands are `/usr/bin/wg-quick up %i` and `... down %i`; wgm's the same verbs.
  const args = (v: string[]) => v.map((c) => c.split(/\s+/).slice(1).join(' '));
  assert.deepEqual(args(get(mine, 'Service', 'ExecStart')), args(get(stock, 'Service', 'ExecStart')));
  assert.deepEqual(args(get(mine, 'Service', 'ExecStop')), args(get(stock, 'Service', 'ExecStop')));
  assert.deepEqual(get(mine, 'Service', 'ExecReload'), ['wgm reload %i']);
  assert.ok(get(mine, 'Unit', 'Documentation').includes('man:wgm(8)'));
});

test('systemd-analyze verify accepts wgm@.service', (t) => {
  if (!which('systemd-analyze')) {
    t.skip('needs systemd-analyze');
    return;
  }
  // verify wants an instance and executables it can find: a copy named for an instance, with
  // the bare `wgm` (found on systemd's fixed search path once installed) pointing at this build.
  const dir = mkdtempSync(join(tmpdir(), 'wgm-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const text = readFileSync(UNIT, 'utf8').replace(/^(Exec\w+=)wgm /gm, `$1${WGM} `);
  writeFileSync(join(dir, 'wgm@wg0.service'), text);
  copyFileSync(join(ROOT, 'systemd/wgm.target'), join(dir, 'wgm.target'));
  const r = run('systemd-analyze', ['verify', '--man=no', join(dir, 'wgm@wg0.service')], {
    timeoutMs: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', r.stderr);
});
