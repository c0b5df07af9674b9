// completions/wgm.bash, driven as bash drives it: COMP_LINE/COMP_POINT and COMP_WORDS/COMP_CWORD
// set, the function called, COMPREPLY read back. Where the behaviour is wg's (show fields, set
// keywords), the answers are compared with the stock wg completion on this machine.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { need, ROOT, run } from '../../lib/run.js';
import { makeScene, PEER_KEY, type Scene, SHOW_FIELDS, sorted, splitAnswers, VERB_NAMES } from './fixture.js';

const SCRIPT = join(ROOT, 'completions/wgm.bash');
const STOCK_WG = '/usr/share/bash-completion/completions/wg';

// Sets what bash sets (COMP_WORDS split the way readline splits, at COMP_WORDBREAKS too) and
// prints COMPREPLY under a marker line.
const DRIVER = `
complete_line() {
  local fn=$1 line=$2
  COMP_LINE=$line
  COMP_POINT=\${#line}
  local IFS=$' \\t\\n'
  local split=\${line//=/ = }
  split=\${split//:/ : }
  read -ra COMP_WORDS <<<"$split"
  [[ $line =~ [[:space:]]$ || \${#COMP_WORDS[@]} -eq 0 ]] && COMP_WORDS+=('')
  COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  "$fn" "\${COMP_WORDS[0]}" "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  printf '### %s\\n' "$line"
  [[ \${#COMPREPLY[@]} -gt 0 ]] && printf '%s\\n' "\${COMPREPLY[@]}"
  return 0
}
`;

function ask(
  scene: Scene,
  lines: string[],
  opts: { script?: string; fn?: string } = {},
): Map<string, string[]> {
  const body = [
    DRIVER,
    `source ${JSON.stringify(opts.script ?? SCRIPT)}`,
    ...lines.map((l) => `complete_line ${opts.fn ?? '_wgm'} ${JSON.stringify(l).replace(/\$/g, '\\$')}`),
  ].join('\n');
  const r = run('bash', ['--norc', '--noprofile', '-c', body], {
    env: scene.env,
    cwd: scene.cwd,
    timeoutMs: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'the completion prints nothing on stderr');
  return splitAnswers(r.stdout, lines);
}

test('bash: verbs, show, set keywords, files and configuration names', async (t) => {
  if (!need(t, { commands: ['bash'] })) return;
  const scene = await makeScene();
  t.after(() => scene.close());
  const IF = scene.iface;
  const q = {
    verbs: 'wgm ',
    sh: 'wgm sh',
    dash: 'wgm -',
    show: 'wgm show ',
    fields: `wgm show ${IF} `,
    fieldPrefix: `wgm show ${IF} pe`,
    json: `wgm show ${IF} -`,
    noJsonAfterField: `wgm show ${IF} endpoints -`,
    noJsonAfterInterfaces: 'wgm show interfaces -',
    afterInterfaces: 'wgm show interfaces ',
    showconf: 'wgm showconf ',
    setDevice: `wgm set ${IF} `,
    setAfterPort: `wgm set ${IF} listen-port 51820 `,
    setPortValue: `wgm set ${IF} listen-port `,
    setPeer: `wgm set ${IF} peer ${PEER_KEY} `,
    setPeerEndpoint: `wgm set ${IF} peer ${PEER_KEY} endpoint 192.0.2.1:51820 `,
    setPeerPsk: `wgm set ${IF} peer ${PEER_KEY} preshared-key private.key `,
    setRemove: `wgm set ${IF} peer ${PEER_KEY} remove `,
    setKeyFile: `wgm set ${IF} private-key pri`,
    setKeyEq: `wgm set ${IF} private-key a=`,
    setconfFile: `wgm setconf ${IF} ho`,
    setconfIface: 'wgm setconf ',
    up: 'wgm up ',
    upPrefix: 'wgm up o',
    down: 'wgm down ',
    save: 'wgm save ',
    strip: 'wgm strip ',
    genkey: 'wgm genkey ',
    probe: 'wgm probe ',
    probeJson: `wgm probe ${IF} `,
  };
  const a = ask(scene, Object.values(q));
  const got = (l: string) => a.get(l)!;

  for (const v of VERB_NAMES) assert.ok(got(q.verbs).includes(v), `verb ${v} of commands.ts is completed`);
  assert.deepEqual(sorted(got(q.verbs)), sorted([...VERB_NAMES, 'help']));
  assert.deepEqual(sorted(got(q.sh)), ['show', 'showconf']);
  assert.deepEqual(sorted(got(q.dash)), ['--help', '--version']);

  assert.deepEqual(
    sorted(got(q.show)),
    sorted([IF, 'all', 'interfaces']),
    'sockets only, not notasocket.sock',
  );
  assert.deepEqual(got(q.fields), SHOW_FIELDS);
  assert.deepEqual(got(q.fieldPrefix), ['peers', 'persistent-keepalive']);
  assert.deepEqual(got(q.json), ['--json']);
  assert.deepEqual(got(q.noJsonAfterField), [], '--json never goes with a field');
  assert.deepEqual(got(q.noJsonAfterInterfaces), []);
  assert.deepEqual(got(q.afterInterfaces), []);
  assert.deepEqual(got(q.showconf), [IF]);

  assert.deepEqual(got(q.setDevice), ['listen-port', 'fwmark', 'private-key', 'peer']);
  assert.deepEqual(got(q.setAfterPort), ['fwmark', 'private-key', 'peer']);
  assert.deepEqual(got(q.setPortValue), [], 'no keyword where a port goes');
  const peerWords = ['preshared-key', 'endpoint', 'allowed-ips', 'persistent-keepalive', 'remove', 'peer'];
  assert.deepEqual(got(q.setPeer), peerWords, 'a base64 key ending in = is one word');
  assert.deepEqual(got(q.setPeerEndpoint), peerWords, 'endpoint may repeat: several candidates');
  assert.deepEqual(
    got(q.setPeerPsk),
    peerWords.filter((w) => w !== 'preshared-key'),
  );
  assert.deepEqual(got(q.setRemove), ['peer']);
  assert.deepEqual(got(q.setKeyFile), ['private.key']);
  assert.deepEqual(got(q.setKeyEq), ['b.key'], 'readline replaces only what follows the =');
  assert.deepEqual(got(q.setconfFile), ['home.conf']);
  assert.deepEqual(got(q.setconfIface), [IF]);

  assert.deepEqual(
    sorted(got(q.up)),
    sorted(['wg0', 'office', 'home.conf', 'keys']),
    'valid names, *.conf, dirs',
  );
  assert.deepEqual(got(q.upPrefix), ['office']);
  assert.deepEqual(sorted(got(q.strip)), sorted(got(q.up)));
  assert.deepEqual(sorted(got(q.down)), sorted([IF, 'home.conf', 'keys']), 'running interfaces and files');
  assert.deepEqual(sorted(got(q.save)), sorted(got(q.down)));
  assert.deepEqual(got(q.genkey), []);
  assert.deepEqual(got(q.probe), [IF]);
  assert.deepEqual(got(q.probeJson), ['--json']);
});

test('bash: plain COMP_WORDS without COMP_LINE works too', async (t) => {
  if (!need(t, { commands: ['bash'] })) return;
  const scene = await makeScene();
  t.after(() => scene.close());
  const body = `source ${JSON.stringify(SCRIPT)}
unset COMP_LINE COMP_POINT
COMP_WORDS=(wgm show ${scene.iface} '')
COMP_CWORD=3
_wgm
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = run('bash', ['--norc', '--noprofile', '-c', body], { env: scene.env, cwd: scene.cwd });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), SHOW_FIELDS);
});

test('bash: same words as the stock wg completion where the grammar is wg', async (t) => {
  if (!need(t, { commands: ['bash', 'wg'] })) return;
  if (!existsSync(STOCK_WG)) {
    t.skip(`no stock completion at ${STOCK_WG}`);
    return;
  }
  const scene = await makeScene();
  t.after(() => scene.close());
  const IF = scene.iface;
  // Lines with no interface list and no files in the answer, so both see the same world.
  const lines = [
    `X show ${IF} `,
    `X show ${IF} p`,
    `X set ${IF} `,
    `X set ${IF} fwmark 1 `,
    `X set ${IF} peer ${PEER_KEY} `,
    `X set ${IF} peer ${PEER_KEY} remove `,
    'X genkey ',
  ];
  const mine = ask(
    scene,
    lines.map((l) => l.replace(/^X/, 'wgm')),
  );
  const stock = ask(
    scene,
    lines.map((l) => l.replace(/^X/, 'wg')),
    { script: STOCK_WG, fn: '_wg_completion' },
  );
  for (const l of lines) {
    const m = mine.get(l.replace(/^X/, 'wgm'))!;
    const s = stock.get(l.replace(/^X/, 'wg'))!;
    assert.deepEqual(sorted(m), sorted(s), l);
  }
});
