// completions/_wgm: a syntax check, then real completions: an interactive zsh in a pseudo-terminal
// (zsh/zpty) loads the file through compinit, a TAB is typed after a command line, and a wrapper
// around compadd records the matches the completion system offers.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { need, ROOT, run } from '../../lib/run.js';
import { makeScene, PEER_KEY, type Scene, SHOW_FIELDS, sorted, VERB_NAMES } from './fixture.js';

const DIR = join(ROOT, 'completions');

// zsh -f driver.zsh COMPDIR OUTFILE LINE: prints the matches, one per line. Exit 4 on timeout.
const DRIVER = `
zmodload zsh/zpty || exit 3
compdir=$1 out=$2 cmdline=$3
: >| $out
zpty c zsh -f -i || exit 3
zpty -w c "PS1=''; PS2=''; fpath=(\${(q)compdir} \\$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w c "compadd() { if (( \\\${@[(I)-[OAD]]} )); then builtin compadd \\"\\$@\\"; return; fi; local -a __m; builtin compadd -O __m \\"\\$@\\"; print -rl -- \\$__m >> \${(q)out}; builtin compadd \\"\\$@\\"; }"
zpty -w c "_wgm_t_done() { print -r -- __DONE__ >> \${(q)out}; }; comppostfuncs=(_wgm_t_done); zstyle ':completion:*' menu no; LISTMAX=100000"
zpty -w -n c "$cmdline"$'\\t'
integer i
local line
for (( i = 0; i < 200; i++ )); do
  while zpty -r -t c line 2>/dev/null; do :; done
  grep -q '^__DONE__$' $out 2>/dev/null && break
  sleep 0.05
done
zpty -d c
grep -v '^__DONE__$' $out
(( i < 200 )) || exit 4
`;

function complete(scene: Scene, line: string): string[] {
  const driver = join(scene.root, 'driver.zsh');
  writeFileSync(driver, DRIVER);
  const r = run('zsh', ['-f', driver, DIR, join(scene.root, 'matches'), line], {
    env: scene.env,
    cwd: scene.cwd,
    timeoutMs: 30_000,
  });
  assert.equal(r.status, 0, `zsh completion of ${JSON.stringify(line)} failed: ${r.stderr}`);
  return [...new Set(r.stdout.split('\n').filter((l) => l !== ''))];
}

test('zsh: the completion file parses', (t) => {
  if (!need(t, { commands: ['zsh'] })) return;
  const r = run('zsh', ['-n', join(DIR, '_wgm')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('zsh: real completions through compinit', async (t) => {
  if (!need(t, { commands: ['zsh'] })) return;
  const probe = run('zsh', ['-fc', 'zmodload zsh/zpty']);
  if (probe.status !== 0) {
    t.skip('zsh has no zsh/zpty module');
    return;
  }
  const scene = await makeScene();
  t.after(() => scene.close());
  const IF = scene.iface;

  assert.deepEqual(sorted(complete(scene, 'wgm ')), sorted([...VERB_NAMES, 'help']));
  assert.deepEqual(sorted(complete(scene, 'wgm sh')), ['show', 'showconf']);
  assert.deepEqual(sorted(complete(scene, 'wgm show ')), sorted([IF, 'all', 'interfaces']));
  assert.deepEqual(sorted(complete(scene, `wgm show ${IF} `)), sorted(SHOW_FIELDS));
  assert.deepEqual(complete(scene, `wgm show ${IF} -`), ['--json']);
  assert.deepEqual(complete(scene, `wgm show ${IF} endpoints -`), [], '--json never goes with a field');
  assert.deepEqual(sorted(complete(scene, `wgm set ${IF} `)), [
    'fwmark',
    'listen-port',
    'peer',
    'private-key',
  ]);
  assert.deepEqual(
    sorted(complete(scene, `wgm set ${IF} peer ${PEER_KEY} endpoint 192.0.2.1:51820 `)),
    sorted(['preshared-key', 'endpoint', 'allowed-ips', 'persistent-keepalive', 'remove', 'peer']),
  );
  assert.deepEqual(complete(scene, `wgm set ${IF} peer ${PEER_KEY} remove `), ['peer']);
  assert.deepEqual(complete(scene, `wgm set ${IF} private-key pri`), ['private.key']);
  const up = complete(scene, 'wgm up ');
  for (const w of ['wg0', 'office', 'home.conf']) assert.ok(up.includes(w), `up offers ${w}: ${up}`);
  for (const w of ['bad name', 'waytoolongname1234', 'readme.txt'])
    assert.ok(!up.includes(w), `up hides ${w}`);
  const down = complete(scene, 'wgm down ');
  assert.ok(down.includes(IF) && down.includes('home.conf') && !down.includes('office'), `down: ${down}`);
});
