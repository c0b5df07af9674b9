// The value parsers (wireguard-tools src/config.c, src/encoding.c): examples recorded from stock wg
// (wireguard-tools 1.0.20210914) as unit tests, then each parser against stock `wg set` on the fake
// UAPI server, value by value.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  parseAllowedIPs,
  parseFwmark,
  parseKeepalive,
  parseKey,
  parsePort,
  readKeyFile,
  splitEndpoint,
} from '../../../src/config/values.js';
import { keyToBase64, keyToHex } from '../../../src/crypto/keys.js';
import { isWgError } from '../../../src/model/errors.js';
import { formatAllowedIP } from '../../../src/model/inet.js';
import { K1, PRIV } from '../../lib/keys.js';
import { need } from '../../lib/run.js';
import { decodeSet, hideLike, WgOracle } from './wg-oracle.js';

/** What a parser prints on stderr (its error line), or its result. */
function outcome<T>(f: () => T): { ok: true; value: T } | { ok: false; stderr: string } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (!isWgError(e)) throw e;
    return { ok: false, stderr: `${e.message}\n` };
  }
}

function message(f: () => unknown): string {
  const r = outcome(f);
  assert.equal(r.ok, false, 'expected an error');
  return (r as { stderr: string }).stderr.trimEnd();
}

test('recorded examples: ports (parse_port)', () => {
  assert.equal(parsePort('domain'), 53);
  assert.equal(parsePort('+51001'), 51001);
  assert.equal(parsePort(' 51001'), 51001);
  assert.equal(parsePort('70000'), 4464);
  assert.equal(parsePort('65536'), 0);
  for (const bad of ['51001x', '-1', '0x10', 'abc']) {
    assert.equal(
      message(() => parsePort(bad)),
      `Servname not supported for ai_socktype: \`${bad}'`,
    );
  }
  assert.equal(
    message(() => parsePort('')),
    'Unable to parse empty port',
  );
});

test('recorded examples: fwmark and keepalive (parse_fwmark, parse_persistent_keepalive)', () => {
  assert.equal(parseFwmark('off'), 0);
  assert.equal(parseFwmark('OFF'), 0);
  assert.equal(parseFwmark('010'), 10);
  assert.equal(parseFwmark('0x10'), 16);
  assert.equal(parseFwmark('0xffffffff'), 0xffffffff);
  for (const bad of ['0X10', '0x', '4294967296', 'x', '']) {
    assert.equal(
      message(() => parseFwmark(bad)),
      `Fwmark is neither 0/off nor 0-0xffffffff: \`${bad}'`,
    );
  }
  assert.equal(parseKeepalive('Off'), 0);
  assert.equal(parseKeepalive('25'), 25);
  assert.equal(parseKeepalive('65535'), 65535);
  for (const bad of ['25s', '-1', '65536', ' 5', '']) {
    assert.equal(
      message(() => parseKeepalive(bad)),
      `Persistent keepalive interval is neither 0/off nor 1-65535: \`${bad}'`,
    );
  }
});

test('recorded examples: keys (encoding.c, key_from_base64)', () => {
  assert.equal(keyToBase64(parseKey(K1)), K1);
  const nonCanonical = `${K1.slice(0, 42)}Z=`;
  for (const bad of [nonCanonical, K1.slice(0, 43), `${K1}=`, PRIV.replace('+', '-'), '']) {
    assert.equal(
      message(() => parseKey(bad)),
      `Key is not the correct length or format: \`${bad}'`,
    );
  }
  // A private or preshared key is never echoed, not even a near miss.
  assert.equal(
    message(() => parseKey(`${PRIV}x`, true)),
    "Key is not the correct length or format: `(hidden, 45 characters)'",
  );
});

test('recorded examples: allowed IPs (parse_allowedips; show.c, ip)', () => {
  const r = parseAllowedIPs('10.0.0.1/024,fd00::/8,10.0.0.2');
  assert.deepEqual(r.ips.map(formatAllowedIP), ['10.0.0.1/24', 'fd00::/8', '10.0.0.2/32']);
  assert.deepEqual(r.warnings, ['Warning: AllowedIP has nonzero host part: 10.0.0.1/024']);
  assert.equal(
    message(() => parseAllowedIPs('10.0.0.1,,b')),
    "Unable to parse IP address: `'",
  );
  assert.equal(
    message(() => parseAllowedIPs('+10.0.0.0')),
    "Unable to parse IP address: `+10.0.0.0'",
  );
  for (const bad of ['10.0.0.0/', '10.0.0.0/+24', '10.0.0.0/33', 'fd00::/129']) {
    assert.equal(
      message(() => parseAllowedIPs(bad)),
      `AllowedIP is not in the correct format: \`${bad}'`,
    );
  }
  for (const [input, text] of [
    ['::2:3', '::0.2.0.3/128'],
    ['::ffff:0:0/96', '::ffff:0.0.0.0/96'],
    ['1:0:0:1::1', '1:0:0:1::1/128'],
    ['1::1:0:0:1', '1::1:0:0:1/128'],
    ['2001:db8::2:1', '2001:db8::2:1/128'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0/128'],
    ['::1:0:0', '::1:0:0/128'],
  ] as const) {
    assert.equal(formatAllowedIP(parseAllowedIPs(input).ips[0]!), text);
  }
  const seen: string[] = [];
  assert.throws(() => parseAllowedIPs('10.0.0.1/8,bad', (w) => seen.push(w)));
  assert.deepEqual(seen, ['Warning: AllowedIP has nonzero host part: 10.0.0.1/8']);
});

test('recorded examples: endpoint splitting (parse_endpoint)', () => {
  assert.deepEqual(splitEndpoint('[::1]:51820'), { host: '::1', port: '51820' });
  assert.deepEqual(splitEndpoint('::1:51820'), { host: '::1', port: '51820' });
  assert.deepEqual(splitEndpoint('fe80::1:51820'), { host: 'fe80::1', port: '51820' });
  assert.deepEqual(splitEndpoint('[1.2.3.4]:5'), { host: '1.2.3.4', port: '5' });
  assert.equal(
    message(() => splitEndpoint('')),
    'Unable to parse empty endpoint',
  );
  assert.equal(
    message(() => splitEndpoint('[::1')),
    "Unable to find matching brace of endpoint: `[::1'",
  );
  for (const bad of ['[::1]', '[::1]:', '[::1]5', '1.2.3.4', '1.2.3.4:']) {
    assert.equal(
      message(() => splitEndpoint(bad)),
      `Unable to find port of endpoint: \`${bad}'`,
    );
  }
});

/** One value through `wg set` and through the parser; the request field is read by `field`. */
async function compare<T>(
  oracle: WgOracle,
  args: string[],
  mine: () => T,
  field: (req: ReturnType<typeof decodeSet>) => unknown,
  show: (v: T) => unknown = (v) => v,
  hide = false,
): Promise<void> {
  const wg = await oracle.run('set', args, { WG_ENDPOINT_RESOLUTION_RETRIES: '0' });
  const r = outcome(mine);
  const label = JSON.stringify(args);
  if (wg.status === 0) {
    assert.ok(r.ok, `${label}: wg accepted, wgm said ${r.ok ? '' : r.stderr}`);
    assert.equal(wg.stderr, '', label);
    assert.deepEqual(show(r.value), field(decodeSet(wg.sets[0]!)), label);
  } else {
    assert.ok(!r.ok, `${label}: wg rejected (${wg.stderr.trim()}), wgm accepted`);
    assert.equal(r.stderr, hide ? hideLike(wg.stderr, r.stderr) : wg.stderr, label);
  }
}

const PORTS = [
  ...['0', '1', '51820', '65535', '65536', '70000', '4294967296', '4294967297', '2147483647', '2147483648'],
  ...['-0', '-1', '-5', '-4294967295', '-4294967296', '+5', '++5', '+-5', ' 5', '\t7', '\n8', '5 ', '5x'],
  ...['0x10', '010', '99999999999999999999', '18446744073709551615', '18446744073709551616'],
  ...[
    'domain',
    'DOMAIN',
    'echo',
    'tftp',
    'krb5',
    'kerberos',
    'http',
    'ssh',
    'ntp',
    'snmp',
    'nosuch',
    ' domain',
    '+',
  ],
  ...['', ' ', '1 2', '٣'],
];

test('listen-port values: wgm agrees with wg set', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('p');
  t.after(() => oracle.close());
  for (const v of PORTS) {
    await compare(
      oracle,
      ['listen-port', v],
      () => parsePort(v),
      (q) => q.listenPort,
    );
  }
});

test('fwmark values: wgm agrees with wg set', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('m');
  t.after(() => oracle.close());
  const values = [
    '0',
    'off',
    'OfF',
    'of',
    '1',
    '010',
    '0x10',
    '0X10',
    '0x',
    '0xg',
    '0x0x1',
    '00x10',
    '0xFFFFFFFF',
  ];
  values.push(
    '0x100000000',
    '4294967295',
    '4294967296',
    '-1',
    '+1',
    ' 1',
    '1 ',
    '',
    '99999999999999999999999',
  );
  for (const v of values) {
    await compare(
      oracle,
      ['fwmark', v],
      () => parseFwmark(v),
      (q) => q.fwmark,
    );
  }
});

test('persistent-keepalive values: wgm agrees with wg set', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('k');
  t.after(() => oracle.close());
  const values = [
    '0',
    'off',
    'OFF',
    '1',
    '25',
    '025',
    '65535',
    '65536',
    '-1',
    '+1',
    '25s',
    ' 5',
    '5 ',
    '',
    '0x5',
  ];
  values.push('99999999999999999999999');
  for (const v of values) {
    await compare(
      oracle,
      ['peer', K1, 'persistent-keepalive', v],
      () => parseKeepalive(v),
      (q) => q.peers[0]!.keepalive,
    );
  }
});

test('public keys: wgm agrees with wg set', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('y');
  t.after(() => oracle.close());
  const values = [
    K1,
    PRIV,
    `${'A'.repeat(43)}=`,
    `${K1.slice(0, 42)}Z=`,
    `${K1.slice(0, 42)}a=`,
    K1.slice(0, 43),
  ];
  values.push(
    `${K1} `,
    ` ${K1}`,
    'hiw3p78SJr2xQE_HLutafQQlVvyRmJWfuoDlXvyCeCc=',
    `${'/'.repeat(42)}w=`,
    `${'/'.repeat(42)}x=`,
  );
  values.push(`${K1.slice(0, 40)}ü==`, `${'A'.repeat(42)}==`, '');
  for (const v of values) {
    await compare(
      oracle,
      ['peer', v],
      () => keyToHex(parseKey(v)),
      (q) => q.peers[0]!.publicKey,
    );
  }
});

const ALLOWED = [
  '10.0.0.1/32',
  '10.0.0.1',
  '10.0.0.1/024',
  '10.0.0.1/8,fd00::1/64,::/0',
  '0.0.0.0/0',
  '255.255.255.255/32',
  '1.2.3.4/0',
  ...['10.0.0', '1.2.3.4.5', '010.0.0.1', '1.2.3.256', '1.2.3.-1', 'localhost', '', ',', 'a,,b', '10.0.0.1,'],
  ...[
    '10.0.0.0/',
    '10.0.0.0/+24',
    '10.0.0.0/-1',
    '10.0.0.0/33',
    '10.0.0.0/8/8',
    '10.0.0.0/0x8',
    '10.0.0.0/08',
  ],
  ...[
    '::',
    '::1',
    '::/129',
    '::/128',
    'fd00::/0064',
    '1::2::3',
    ':::',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:9',
  ],
  ...[
    '1:2:3:4::5:6:7:8',
    '::1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7::',
    '12345::',
    '1:',
    ':1',
    '::ffff:1.2.3.4',
    '::1.2.3',
  ],
  ...[
    '::1.2.3.04',
    '1.2.3.4::',
    '::1.2.3.4:5',
    'FD00::ABCD',
    'fe80::1%lo',
    '1:2:3:4:5:6:1.2.3.4',
    '::a.2.3.4',
  ],
  ...['+10.0.0.0/8', '-10.0.0.0/8', '10.0.0.1/24,nope', 'fd00::1/64,fd00::2/64,fd00::/64', '::ffff:0:0/96'],
];

test('allowed-ips values: wgm agrees with wg set (addresses, warnings, errors)', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('a');
  t.after(() => oracle.close());
  for (const v of ALLOWED) {
    const wg = await oracle.run('set', ['peer', K1, 'allowed-ips', v]);
    const warnings: string[] = [];
    const r = outcome(() => parseAllowedIPs(v, (w) => warnings.push(w)));
    const stderr = warnings.map((w) => `${w}\n`).join('') + (r.ok ? '' : r.stderr);
    assert.equal(stderr, wg.stderr, JSON.stringify(v));
    assert.equal(r.ok, wg.status === 0, JSON.stringify(v));
    if (r.ok) {
      assert.deepEqual(r.value.ips.map(formatAllowedIP), decodeSet(wg.sets[0]!).peers[0]!.allowedIPs, v);
      assert.deepEqual(r.value.warnings, warnings);
    }
  }
});

test('key files: wgm agrees with wg set private-key (parse_keyfile)', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('f');
  const dir = mkdtempSync(join(tmpdir(), 'wgm-config-keys-'));
  t.after(async () => {
    await oracle.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const contents: Record<string, string | Buffer> = {
    empty: '',
    plain: PRIV,
    newline: `${PRIV}\n`,
    'trailing-space': `${PRIV} \t\r\n\v\f  \n`,
    'leading-space': ` ${PRIV}`,
    short: PRIV.slice(0, 43),
    'one-byte': 'x',
    'trailing-junk': `${PRIV}\nx`,
    'trailing-nul': Buffer.concat([Buffer.from(PRIV), Buffer.from([0])]),
    'nul-inside': Buffer.concat([
      Buffer.from(PRIV.slice(0, 10)),
      Buffer.from([0]),
      Buffer.from(PRIV.slice(11)),
    ]),
    'non-canonical': `${K1.slice(0, 42)}Z=`,
    'bad-char': `${PRIV.slice(0, 43)}!`,
    twice: `${PRIV}${PRIV}`,
    'zero-key': `${'A'.repeat(43)}=\n`,
  };
  const paths = Object.entries(contents).map(([name, data]) => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  });
  paths.push('/dev/null', '/dev/zero', dir, join(dir, 'missing'), join(dir, 'plain', 'below-a-file'));
  let hiddenSeen = 0;
  for (const p of paths) {
    await compare(
      oracle,
      ['private-key', p],
      () => keyToHex(readKeyFile(p)),
      (q) => q.privateKey,
      (v) => v,
      true,
    );
    hiddenSeen += outcome(() => readKeyFile(p)).ok
      ? 0
      : Number(/\(hidden, /.test(message(() => readKeyFile(p))));
  }
  assert.equal(hiddenSeen, 3, 'key files whose error would quote the key');
  for (const p of paths) {
    const r = outcome(() => readKeyFile(p));
    if (!r.ok)
      assert.ok(!r.stderr.includes(PRIV.slice(0, 8)) && !r.stderr.includes(K1.slice(0, 8)), r.stderr);
  }
});
