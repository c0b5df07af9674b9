// Text wgm up produces the way wg-quick does, checked against the real thing:
// - the nft script and iptables-restore input of the default-route case, against the
//   installed wg-quick's own add_default function (extracted from /usr/bin/wg-quick and run
//   by bash with its system commands replaced by stand-ins that print what they are fed);
// - the order of the routes, against GNU sort (`sort -nr -k 2 -t /` under LC_ALL=C);
// - WGM_BACKEND parsing and address normalisation for reload.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isWgError } from '../../../src/model/errors.js';
import { backendMode } from '../../../src/quick/backend-choice.js';
import { iptablesRestore, nftScript } from '../../../src/quick/firewall.js';
import { sortLikeWgQuick } from '../../../src/quick/net.js';
import { normalizeAddress } from '../../../src/quick/reload.js';
import { Rng } from '../../lib/rng.js';
import { run, which } from '../../lib/run.js';

const WG_QUICK = which('wg-quick');

/** Runs wg-quick's add_default for one family with stand-ins; returns what the firewall tool got. */
function wgQuickFirewall(tool: 'nft' | 'iptables', cidr: string, addrs: string[]): string {
  const src = readFileSync(WG_QUICK!, 'utf8');
  const fn = /^add_default\(\) \{[\s\S]*?^\}$/m.exec(src);
  assert.ok(fn, 'add_default in wg-quick');
  const family = cidr.includes(':') ? '-6' : '-4';
  const lines = addrs.map(
    (a, i) => `${i + 5}: wg0    ${a.includes(':') ? 'inet6' : 'inet'} ${a}/64 scope global`,
  );
  const script = `
INTERFACE=wg0
get_fwmark() { printf -v "$1" 51820; return 0; }
cmd() { case "$1" in nft) cat "$3" ;; iptables-restore|ip6tables-restore) cat ;; esac; }
ip() { [[ "$*" == "-o ${family} addr show dev wg0" ]] && printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')}; return 0; }
type() { [[ "$2" == nft && "${tool}" == nft ]]; }
${fn[0]}
add_default ${cidr}
`;
  const r = run('bash', ['-c', script]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("the firewall text is wg-quick's add_default's, for nft and iptables, both families", (t) => {
  if (!WG_QUICK) {
    t.skip('needs wg-quick');
    return;
  }
  const cases: [string, string[]][] = [
    ['0.0.0.0/0', ['10.0.0.5', '10.0.5.5']],
    ['::/0', ['fd00::5', 'fe80::1']],
    ['0.0.0.0/0', []],
  ];
  for (const [cidr, addrs] of cases) {
    const family = cidr.includes(':') ? 6 : 4;
    assert.equal(nftScript('wg0', family, 51820, addrs), wgQuickFirewall('nft', cidr, addrs), `nft ${cidr}`);
    assert.equal(
      iptablesRestore('wg0', 51820, addrs),
      wgQuickFirewall('iptables', cidr, addrs),
      `iptables ${cidr}`,
    );
  }
});

test('routes are ordered as `sort -nr -k 2 -t /` orders them', (t) => {
  if (!which('sort')) {
    t.skip('needs sort');
    return;
  }
  const rng = new Rng(11);
  for (let round = 0; round < 20; round++) {
    const list: string[] = ['0.0.0.0/0', '::/0'];
    for (let i = 0; i < 12; i++) {
      const v6 = rng.int(2) === 1;
      const len = v6 ? rng.int(129) : rng.int(33);
      const host = v6
        ? `fd${rng.int(256).toString(16)}::${rng.int(65536).toString(16)}`
        : `10.${rng.int(256)}.${rng.int(256)}.0`;
      list.push(`${host}/${len}`);
    }
    const ref = run('sort', ['-nr', '-k', '2', '-t', '/'], {
      input: `${list.join('\n')}\n`,
      env: { ...process.env, LC_ALL: 'C' },
    });
    assert.deepEqual(sortLikeWgQuick(list), ref.stdout.trim().split('\n'), list.join(' '));
  }
});

test('WGM_BACKEND: auto, kernel, engine; anything else is named in the error', () => {
  assert.equal(backendMode({}), 'auto');
  assert.equal(backendMode({ WGM_BACKEND: '' }), 'auto');
  assert.equal(backendMode({ WGM_BACKEND: 'kernel' }), 'kernel');
  assert.equal(backendMode({ WGM_BACKEND: 'engine' }), 'engine');
  assert.throws(
    () => backendMode({ WGM_BACKEND: 'Kernel' }),
    (e) => isWgError(e) && e.message === 'WGM_BACKEND=Kernel is not one of auto, kernel, engine',
  );
});

test('reload compares addresses by value, with the host prefix when none is given', () => {
  assert.equal(normalizeAddress('10.0.0.1'), '10.0.0.1/32');
  assert.equal(normalizeAddress('10.0.0.1/24'), '10.0.0.1/24');
  assert.equal(normalizeAddress('fd00:0:0::1/64'), 'fd00::1/64');
  assert.equal(normalizeAddress('FD00::1'), 'fd00::1/128');
});
