// completions/wgm.fish: a syntax check, then real completions asked of fish itself
// (`complete -C LINE'), one fish process for a batch of lines.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { need, ROOT, run } from '../../lib/run.js';
import { makeScene, PEER_KEY, type Scene, SHOW_FIELDS, sorted, splitAnswers, VERB_NAMES } from './fixture.js';

const SCRIPT = join(ROOT, 'completions/wgm.fish');

function ask(scene: Scene, lines: string[]): Map<string, string[]> {
  const body = `source ${JSON.stringify(SCRIPT)}
for l in $argv
  printf '### %s\\n' $l
  complete -C $l | string replace -r '\\t.*' ''
end
true`;
  const r = run('fish', ['-N', '-c', body, ...lines], { env: scene.env, cwd: scene.cwd, timeoutMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return splitAnswers(r.stdout, lines);
}

test('fish: the completion file parses', (t) => {
  if (!need(t, { commands: ['fish'] })) return;
  const r = run('fish', ['-n', SCRIPT]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('fish: real completions with complete -C', async (t) => {
  if (!need(t, { commands: ['fish'] })) return;
  const scene = await makeScene();
  t.after(() => scene.close());
  const IF = scene.iface;
  const q = {
    verbs: 'wgm ',
    sh: 'wgm sh',
    show: 'wgm show ',
    fields: `wgm show ${IF} `,
    json: `wgm show ${IF} -`,
    noJsonAfterField: `wgm show ${IF} endpoints -`,
    setDevice: `wgm set ${IF} `,
    setAfterMark: `wgm set ${IF} fwmark off `,
    setPeer: `wgm set ${IF} peer ${PEER_KEY} endpoint 192.0.2.1:51820 `,
    setRemove: `wgm set ${IF} peer ${PEER_KEY} remove `,
    setKeyFile: `wgm set ${IF} private-key pri`,
    setconfFile: `wgm addconf ${IF} ho`,
    up: 'wgm up ',
    down: 'wgm down ',
    genkey: 'wgm genkey ',
  };
  const a = ask(scene, Object.values(q));
  const got = (l: string) => a.get(l)!;
  assert.deepEqual(sorted(got(q.verbs)), sorted([...VERB_NAMES, 'help']));
  assert.deepEqual(sorted(got(q.sh)), ['show', 'showconf']);
  assert.deepEqual(sorted(got(q.show)), sorted([IF, 'all', 'interfaces']));
  assert.deepEqual(got(q.fields), SHOW_FIELDS);
  assert.deepEqual(got(q.json), ['--json']);
  assert.deepEqual(got(q.noJsonAfterField), [], '--json never goes with a field');
  assert.deepEqual(got(q.setDevice), ['listen-port', 'fwmark', 'private-key', 'peer']);
  assert.deepEqual(got(q.setAfterMark), ['listen-port', 'private-key', 'peer']);
  assert.deepEqual(got(q.setPeer), [
    'preshared-key',
    'endpoint',
    'allowed-ips',
    'persistent-keepalive',
    'remove',
    'peer',
  ]);
  assert.deepEqual(got(q.setRemove), ['peer']);
  assert.deepEqual(got(q.setKeyFile), ['private.key']);
  assert.deepEqual(got(q.setconfFile), ['home.conf']);
  assert.deepEqual(sorted(got(q.up)), sorted(['wg0', 'office', 'home.conf', 'keys/']));
  assert.deepEqual(sorted(got(q.down)), sorted([IF, 'home.conf', 'keys/']));
  assert.deepEqual(got(q.genkey), []);
});
