// wg show's human formats (wireguard-tools src/show.c, pretty_print and its helpers): durations,
// "ago", C's %.2f (round half to even on the exact binary value), byte units, the colour decision
// and wg's way of stripping colour.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, bytes, colorMode, every, fixed2, prettyTime, stripAnsi } from '../../../src/cli/format.js';

const plain = (s: string) => stripAnsi(s);

test('durations: the recorded examples', () => {
  assert.equal(plain(ago(100n, 101n)), '1 second ago');
  assert.equal(plain(ago(0n, 61n)), '1 minute, 1 second ago');
  assert.equal(plain(ago(0n, 192n)), '3 minutes, 12 seconds ago');
  const y = 365n * 86400n;
  assert.equal(
    plain(ago(0n, y + 2n * 86400n + 3n * 3600n + 4n * 60n + 5n)),
    '1 year, 2 days, 3 hours, 4 minutes, 5 seconds ago',
  );
  assert.equal(plain(ago(1n, 1795558176n)).startsWith('56 years, '), true);
  assert.equal(plain(ago(5n, 5n)), 'Now');
  assert.equal(plain(ago(6n, 5n)), '(System clock wound backward; connection problems may ensue.)');
  assert.equal(plain(every(25)), 'every 25 seconds');
  assert.equal(plain(every(60)), 'every 1 minute');
  assert.equal(plain(every(3600)), 'every 1 hour');
  assert.equal(plain(every(7384)), 'every 2 hours, 3 minutes, 4 seconds');
  assert.equal(plain(every(65535)), 'every 18 hours, 12 minutes, 15 seconds');
  assert.equal(prettyTime(0n), '');
  assert.equal(plain(prettyTime(2n * 365n * 86400n)), '2 years');
});

test('durations: coloured units as wg writes them', () => {
  assert.equal(ago(0n, 61n), '1 \x1b[36mminute\x1b[0m, 1 \x1b[36msecond\x1b[0m ago');
  assert.equal(ago(7n, 5n), '(\x1b[31mSystem clock wound backward; connection problems may ensue.\x1b[0m)');
});

test("%.2f: C's rounding of the exact binary value, not JavaScript's toFixed", () => {
  assert.equal(fixed2(1.125), '1.12');
  assert.equal((1.125).toFixed(2), '1.13', 'the difference this function exists for');
  assert.equal(fixed2(1.625), '1.62');
  assert.equal(fixed2(1.375), '1.38');
  assert.equal(fixed2(0.005), '0.01', '0.005 is slightly above 0.005 in binary');
  assert.equal(fixed2(0.015), '0.01', '0.015 is slightly below');
  assert.equal(fixed2(2.675), '2.67');
  assert.equal(fixed2(1023.999), '1024.00');
  assert.equal(fixed2(0), '0.00');
  assert.equal(fixed2(1e21), '1000000000000000000000.00');
  assert.equal(fixed2(5e-324), '0.00');
  // Exhaustive over every byte count of the KiB range whose quotient is an exact quarter:
  // x.x25 and x.x75 ties go to the even hundredth.
  for (let b = 1024; b < 1024 * 1024; b += 256) {
    const x = b / 1024;
    const h = Math.round(x * 100 * 2) / 2; // exact: x*100 is a multiple of 25 here
    const even = Number.isInteger(h) ? h : Math.floor(h) % 2 === 0 ? Math.floor(h) : Math.ceil(h);
    assert.equal(fixed2(x), (even / 100).toFixed(2), String(b));
  }
});

test('bytes: the table recorded from wg show (wireguard-tools 1.0.20210914)', () => {
  const table: Array<[bigint, string]> = [
    [0n, '0 B'],
    [1023n, '1023 B'],
    [1024n, '1.00 KiB'],
    [1152n, '1.12 KiB'],
    [1664n, '1.62 KiB'],
    [1048575n, '1024.00 KiB'],
    [1048576n, '1.00 MiB'],
    [123456789n, '117.74 MiB'],
    [987654321n, '941.90 MiB'],
    [1610612736n, '1.50 GiB'],
    [5n * 1024n ** 4n, '5.00 TiB'],
    [1024n ** 5n, '1024.00 TiB'],
    [(1n << 64n) - 1n, '16777216.00 TiB'],
  ];
  for (const [b, want] of table) assert.equal(plain(bytes(b)), want, String(b));
  assert.equal(bytes(1n), '1 \x1b[36mB\x1b[0m');
});

test("colour decision: WG_COLOR_MODE exactly 'always'/'never', else the terminal", () => {
  assert.equal(colorMode({ WG_COLOR_MODE: 'always' }, false), true);
  assert.equal(colorMode({ WG_COLOR_MODE: 'never' }, true), false);
  assert.equal(colorMode({ WG_COLOR_MODE: 'ALWAYS' }, false), false);
  assert.equal(colorMode({ WG_COLOR_MODE: 'ALWAYS' }, true), true);
  assert.equal(colorMode({}, true), true);
  assert.equal(colorMode({ NO_COLOR: '1' }, true), true, 'wg does not read NO_COLOR');
});

test("stripping: wg's filter_ansi, per chunk", () => {
  assert.equal(stripAnsi('\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg0\x1b[0m\n'), 'interface: wg0\n');
  // Everything from ESC [ up to and including the next ASCII letter goes, digits or not.
  assert.equal(stripAnsi('a\x1b[12;34Hb'), 'ab');
  assert.equal(stripAnsi('a\x1b[;;;'), 'a', 'no letter: deleted to the end');
  // A sequence starting in the last two characters is kept, as wg's loop bound does.
  assert.equal(stripAnsi('ab\x1b['), 'ab\x1b[');
  assert.equal(stripAnsi('a\x1b[m'), 'a');
  assert.equal(stripAnsi('\x1b'), '\x1b');
  assert.equal(stripAnsi('x\x1bq'), 'x\x1bq', 'ESC not followed by [ stays');
});
