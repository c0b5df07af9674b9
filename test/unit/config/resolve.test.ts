// Endpoint resolution (wireguard-tools src/config.c, parse_endpoint): the retry schedule and its
// messages against the recorded wg transcript (with an injected sleep, so no test waits 72 s), the
// retries variable, permanent and retryable failures, scopes, and a list of specs against stock `wg
// set`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatSeconds,
  ifIndexToName,
  ifNameToIndex,
  type LookupResult,
  parseRetries,
  RETRY_FIRST_US,
  RETRY_MAX_US,
  resolveEndpoint,
} from '../../../src/config/resolve.js';
import { isWgError, type WgError } from '../../../src/model/errors.js';
import { formatSockAddr } from '../../../src/model/inet.js';
import { K1 } from '../../lib/keys.js';
import { need } from '../../lib/run.js';
import { decodeSet, WgOracle } from './wg-oracle.js';

const RECORDED_SCHEDULE =
  '1.00 1.20 1.44 1.73 2.07 2.49 2.99 3.58 4.30 5.16 6.19 7.43 8.92 10.70 12.84 15.41 18.49 20.00 20.00';

function schedule(n: number): number[] {
  const out: number[] = [];
  for (let us = RETRY_FIRST_US; out.length < n; us = Math.min(RETRY_MAX_US, Math.floor((us * 6) / 5)))
    out.push(us);
  return out;
}

async function failure(p: Promise<unknown>): Promise<WgError> {
  try {
    await p;
  } catch (e) {
    if (isWgError(e)) return e;
    throw e;
  }
  assert.fail('expected a WgError');
}

test('the retry delays print as wg prints them (%.2f)', () => {
  assert.equal(schedule(19).map(formatSeconds).join(' '), RECORDED_SCHEDULE);
  // Round half to even on the exact binary value, not JavaScript's toFixed.
  assert.equal(formatSeconds(1_125_000), '1.12');
  assert.equal(formatSeconds(1_135_000), '1.14');
  assert.equal(formatSeconds(1_005_000), '1.00');
  assert.equal(formatSeconds(20_000_000), '20.00');
});

test('recorded transcript: `1.2.3.4:abc` with default retries is 15 retry lines then the error', async () => {
  const lines: string[] = [];
  const sleeps: number[] = [];
  const err = await failure(
    resolveEndpoint('1.2.3.4:abc', {
      env: {},
      log: (l) => lines.push(l),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    }),
  );
  const times = RECORDED_SCHEDULE.split(' ').slice(0, 15);
  assert.deepEqual(
    lines,
    times.map(
      (s) => `Servname not supported for ai_socktype: \`1.2.3.4:abc'. Trying again in ${s} seconds...\n`,
    ),
  );
  assert.equal(err.message, "Servname not supported for ai_socktype: `1.2.3.4:abc'");
  assert.equal(err.code, 'resolve');
  assert.deepEqual(
    sleeps,
    schedule(15).map((us) => us / 1000),
  );
  const total = sleeps.reduce((a, b) => a + b, 0);
  assert.ok(total > 72_000 && total < 72_200, `about 72 s of sleeping, got ${total} ms`);
});

test('WG_ENDPOINT_RESOLUTION_RETRIES is read as wg reads it', () => {
  assert.equal(parseRetries({}), 15);
  assert.equal(parseRetries({ WG_ENDPOINT_RESOLUTION_RETRIES: 'infinity' }), -1);
  for (const [text, n] of [
    ['', 0],
    ['0', 0],
    [' 5', 5],
    ['+7', 7],
    ['-0', 0],
    ['2147483647', 2147483647],
  ] as const) {
    assert.equal(parseRetries({ WG_ENDPOINT_RESOLUTION_RETRIES: text }), n, JSON.stringify(text));
  }
  for (const text of ['-1', '2147483648', '5 ', 'x', ' ', 'Infinity', '0x5', '99999999999999999999']) {
    assert.throws(
      () => parseRetries({ WG_ENDPOINT_RESOLUTION_RETRIES: text }),
      (e: unknown) =>
        isWgError(e) &&
        e.code === 'usage' &&
        e.message === `Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: \`${text}'`,
    );
  }
});

test('the retries variable is checked first, even for literals and malformed specs', async () => {
  const env = { WG_ENDPOINT_RESOLUTION_RETRIES: 'x' };
  for (const spec of ['1.2.3.4:5', '[::1', '', 'nonsense']) {
    const err = await failure(resolveEndpoint(spec, { env }));
    assert.equal(err.message, "Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `x'");
  }
});

test('permanent failures are not retried; the rest are, with gai_strerror texts', async () => {
  const cases: [LookupResult, string, boolean][] = [
    [{ ok: false, error: 'EAI_NONAME' }, 'Name or service not known', false],
    [{ ok: false, error: 'EAI_NODATA' }, 'No address associated with hostname', false],
    [{ ok: false, error: 'EAI_FAIL' }, 'Non-recoverable failure in name resolution', false],
    [{ ok: false, error: 'EAI_AGAIN' }, 'Temporary failure in name resolution', true],
    [{ ok: false, error: 'EAI_MEMORY' }, 'Memory allocation failure', true],
    [{ ok: false, error: 'ECONNREFUSED' }, 'Connection refused', true],
  ];
  for (const [result, text, retried] of cases) {
    const lines: string[] = [];
    const err = await failure(
      resolveEndpoint('example.test:5', {
        env: { WG_ENDPOINT_RESOLUTION_RETRIES: '3' },
        log: (l) => lines.push(l),
        sleep: async () => {},
        lookup: async () => result,
      }),
    );
    assert.equal(err.message, `${text}: \`example.test:5'`);
    assert.equal(lines.length, retried ? 3 : 0, text);
  }
});

test('a transient failure followed by success returns the address', async () => {
  let calls = 0;
  const lines: string[] = [];
  const addr = await resolveEndpoint('example.test:domain', {
    env: {},
    log: (l) => lines.push(l),
    sleep: async () => {},
    lookup: async () =>
      ++calls < 3 ? { ok: false, error: 'EAI_AGAIN' } : { ok: true, family: 6, address: '2001:0db8::0001' },
  });
  assert.equal(formatSockAddr(addr), '[2001:db8::1]:53');
  assert.equal(lines.length, 2);
});

test('infinity retries forever, the delay capped at 20 s', async () => {
  const lines: string[] = [];
  const stop = new Error('enough');
  let sleeps = 0;
  await assert.rejects(
    resolveEndpoint('1.2.3.4:nosuchservice', {
      env: { WG_ENDPOINT_RESOLUTION_RETRIES: 'infinity' },
      log: (l) => lines.push(l),
      sleep: async () => {
        if (++sleeps === 40) throw stop;
      },
    }),
    (e) => e === stop,
  );
  assert.equal(lines.length, 40);
  assert.match(lines[39]!, /Trying again in 20\.00 seconds\.\.\.\n$/);
});

test('scope ids: names for link-local scopes, numbers otherwise (glibc getnameinfo)', async () => {
  assert.equal(ifNameToIndex('lo'), 1);
  assert.equal(ifIndexToName(1), 'lo');
  assert.equal(ifNameToIndex('../lo'), 0);
  assert.equal(ifNameToIndex('no-such-link0'), 0);
  const env = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' };
  const text = async (spec: string) => formatSockAddr(await resolveEndpoint(spec, { env }));
  assert.equal(await text('[fe80::1%lo]:5'), '[fe80::1%lo]:5');
  assert.equal(await text('[fe80::1%1]:5'), '[fe80::1%lo]:5');
  assert.equal(await text('[ff01::1%lo]:5'), '[ff01::1%1]:5');
  assert.equal(await text('[2001:db8::1%9]:5'), '[2001:db8::1%9]:5');
  assert.equal(await text('[fe80::1%0]:5'), '[fe80::1]:5');
  for (const spec of ['[2001:db8::1%lo]:5', '[fe80::1%]:5', '[fe80::1%4294967296]:5', '[fe80::1%1x]:5']) {
    assert.equal(
      (await failure(resolveEndpoint(spec, { env }))).message,
      `Name or service not known: \`${spec}'`,
    );
  }
});

const SPECS = [
  ...['127.0.0.1:51820', 'localhost:1', '[localhost]:2', 'LOCALHOST:3', '1.2.3:5', '0x7f.1:5', '1:5', '0:5'],
  ...[
    '4294967295:5',
    '4294967296:5',
    '0x100000000:5',
    '1.2.3.4.5:5',
    '1..2:5',
    '01.02.03.04:5',
    '08.1.1.1:5',
  ],
  ...[
    '[::1]:51820',
    '::1:51820',
    '[::ffff:1.2.3.4]:5',
    '[::2:3]:5',
    '[FD00::1]:5',
    '[1::2::3]:5',
    '[::1]:5]',
  ],
  ...[
    '[fe80::1%lo]:5',
    '[fe80::1%1]:5',
    '[fe80::1%nonexist0]:5',
    'fe80::1%lo:5',
    '1.2.3.4%lo:5',
    '*:5',
    '[*]:5',
  ],
  ...[
    '1.2.3.4:domain',
    '1.2.3.4:DOMAIN',
    '1.2.3.4:0',
    '1.2.3.4:65536',
    '1.2.3.4:-4294967295',
    '1.2.3.4:2147483648',
  ],
  ...['1.2.3.4: 5', '1.2.3.4:5 ', '1.2.3.4 :5', ' 1.2.3.4:5', '1.2.3.4 x:5', '[]:5', ':5', '[]:abc', ':abc'],
  ...['[::1', '[::1]', '[::1]5', '1.2.3.4', '1.2.3.4:', '', '[1.2.3.4]:5', '[[::1]]:5', '[::1]]:5', ':::5'],
];

test('endpoint specs: wgm resolves and fails exactly as wg set does', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('e');
  t.after(() => oracle.close());
  const env = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' };
  for (const spec of SPECS) {
    const wg = await oracle.run('set', ['peer', K1, 'endpoint', spec], env);
    try {
      const addr = await resolveEndpoint(spec, { env });
      assert.equal(wg.status, 0, `${spec}: wg said ${wg.stderr}`);
      assert.equal(formatSockAddr(addr), decodeSet(wg.sets[0]!).peers[0]!.endpoint, spec);
    } catch (e) {
      if (!isWgError(e)) throw e;
      assert.equal(`${e.message}\n`, wg.stderr, JSON.stringify(spec));
    }
  }
});

test('two retries print the same lines as wg (live, about 2 s)', async (t) => {
  if (!need(t, { root: true, commands: ['wg'] })) return;
  const oracle = await WgOracle.start('t');
  t.after(() => oracle.close());
  const env = { WG_ENDPOINT_RESOLUTION_RETRIES: '2' };
  const spec = '127.0.0.1:nosuchservice';
  const wg = await oracle.run('set', ['peer', K1, 'endpoint', spec], env);
  let stderr = '';
  const err = await failure(resolveEndpoint(spec, { env, log: (l) => (stderr += l), sleep: async () => {} }));
  stderr += `${err.message}\n`;
  assert.equal(stderr, wg.stderr);
  assert.equal(wg.stderr.split('\n').length, 4);
});
