// parseQuickConfig: the fields `wgm up` will use (wg-quick's parse_options, wireguard-tools
// src/wg-quick/linux.bash) and the lines it hands on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuickConfig } from '../../../src/config/quick.js';
import { isWgError } from '../../../src/model/errors.js';

const kept = (text: string | Uint8Array) => parseQuickConfig(text).wgConfig.toString('latin1');

test('Address: repeatable, split on commas and blanks, empty words dropped', () => {
  const q = parseQuickConfig(
    '[Interface]\nAddress = 10.0.0.1/24,10.0.1.1/24 , fd00::1/64\t10.0.2.1\nAddress=10.0.3.1/24,\nAddress = ,, \n',
  );
  assert.deepEqual(q.addresses, ['10.0.0.1/24', '10.0.1.1/24', 'fd00::1/64', '10.0.2.1', '10.0.3.1/24']);
  assert.equal(kept('[Interface]\nAddress = 10.0.0.1/32\n'), '[Interface]\n');
});

test('DNS: nameservers are digits-and-dots or contain a colon, everything else is a search domain', () => {
  const q = parseQuickConfig(
    '[Interface]\nDNS = 10.0.9.1, fd00::53, example.com, 1.1.1.1,corp.internal\nDNS = 1.2.3 1.1.1.1.example a:b\n',
  );
  assert.deepEqual(q.dns, ['10.0.9.1', 'fd00::53', '1.1.1.1', '1.2.3', 'a:b']);
  assert.deepEqual(q.dnsSearch, ['example.com', 'corp.internal', '1.1.1.1.example']);
  // CR, VT and FF are not IFS characters: they stay inside a word and spoil an address.
  const v = parseQuickConfig('[Interface]\nDNS = 1.1.1.1\v,2.2.2.2\n');
  assert.deepEqual(v.dns, ['2.2.2.2']);
  assert.deepEqual(v.dnsSearch, ['1.1.1.1\v']);
});

test('MTU and Table: last value wins, kept raw (unset, empty and values are distinct)', () => {
  const q = parseQuickConfig('[Interface]\nMTU = 1400\nmtu = 1300\nTable = 10\nTABLE = off\n');
  assert.equal(q.mtu, '1300');
  assert.equal(q.table, 'off');
  const none = parseQuickConfig('[Interface]\n');
  assert.equal(none.mtu, undefined);
  assert.equal(none.table, undefined);
  const empty = parseQuickConfig('[Interface]\nMTU =\nTable = # c\n');
  assert.equal(empty.mtu, '');
  assert.equal(empty.table, '');
  // A key without `=` takes the whole (trimmed) line as its value, as wg-quick's ${stripped#*=}.
  assert.equal(parseQuickConfig('[Interface]\n  MTU  \n').mtu, 'MTU');
});

test('hooks: in file order per kind, 2021 semantics (the `#` comment is cut, even inside quotes)', () => {
  const q = parseQuickConfig(
    '[Interface]\nPreUp = echo 1\nPostUp = echo "a # b" # c\nPreUp = echo 2\nPreDown = x=1 y\npostdown=%i\nPostDown = #\n',
  );
  assert.deepEqual(q.preUp, ['echo 1', 'echo 2']);
  assert.deepEqual(q.postUp, ['echo "a']);
  assert.deepEqual(q.preDown, ['x=1 y']);
  assert.deepEqual(q.postDown, ['%i', '']);
  assert.equal(kept('[Interface]\nPostUp = echo\n'), '[Interface]\n');
});

test('SaveConfig: true/false in any case, anything else is wg-quick’s error', () => {
  assert.equal(parseQuickConfig('[Interface]\nSaveConfig = TrUe\n').saveConfig, true);
  assert.equal(parseQuickConfig('[Interface]\nSaveConfig = true\nsaveconfig=FALSE # c\n').saveConfig, false);
  assert.equal(parseQuickConfig('[Interface]\n').saveConfig, false);
  for (const [line, shown] of [
    ['SaveConfig = yes', 'yes'],
    ['SaveConfig =', ''],
    ['SaveConfig', 'SaveConfig'],
    ['SaveConfig = true false', 'true false'],
  ]) {
    assert.throws(
      () => parseQuickConfig(`[Interface]\n${line}\n`),
      (e: unknown) => isWgError(e) && e.message === `\`${shown}' is neither true nor false`,
      line,
    );
  }
  // Outside [Interface] it is not wg-quick's: kept for wg, no error.
  assert.equal(kept('[Peer]\nSaveConfig = yes\n'), '[Peer]\nSaveConfig = yes\n');
});

test('sections: `[` leaves [Interface], only an exact (case-blind) `[Interface]` enters it', () => {
  assert.deepEqual(parseQuickConfig('[ Interface ]\nAddress = 1.1.1.1\n').addresses, []);
  assert.deepEqual(parseQuickConfig('[INTERFACE] # c\nAddress = 1.1.1.1\n').addresses, ['1.1.1.1']);
  assert.deepEqual(parseQuickConfig('Address = 1.1.1.1\n[Interface]\n').addresses, []);
  assert.deepEqual(parseQuickConfig('[Interface]\n[Peer]\nAddress = 1.1.1.1\n').addresses, []);
  assert.deepEqual(parseQuickConfig('[Interface]\n[\nAddress = 1.1.1.1\n').addresses, []);
  assert.deepEqual(parseQuickConfig('[Interface]\n[Interface\nDNS = 1.1.1.1\n').dns, []);
  assert.deepEqual(parseQuickConfig('[Peer]\n[interface]\nDNS = 1.1.1.1\n').dns, ['1.1.1.1']);
  assert.equal(kept('[Interface] x\nMTU = 1\n'), '[Interface] x\nMTU = 1\n');
});

test('read -r: NULs dropped, blanks trimmed, CR kept, last line read without its newline', () => {
  assert.equal(kept('  [Peer]\t \n\tEndpoint = a:1  # x \n'), '[Peer]\nEndpoint = a:1  # x\n');
  assert.equal(kept('[Pe\0er]\n\0\nA\0\n'), '[Peer]\n\nA\n');
  assert.equal(kept('[Peer]\r\nX = 1\r\n'), '[Peer]\r\nX = 1\r\n');
  assert.equal(kept('[Peer]\nX = 1'), '[Peer]\nX = 1\n');
  assert.equal(kept('[Peer]\n \t '), '[Peer]\n');
  assert.equal(kept('[Peer]\n\0'), '[Peer]\n');
  assert.equal(kept(''), '');
  assert.equal(kept('\n'), '\n');
  // CRLF: the trailing CR is [[:space:]], so keys and values still match.
  const q = parseQuickConfig('[Interface]\r\nAddress = 10.0.0.1/32\r\nSaveConfig = true\r\n');
  assert.deepEqual(q.addresses, ['10.0.0.1/32']);
  assert.equal(q.saveConfig, true);
});

test('bytes pass through untouched; text fields are UTF-8', () => {
  const bytes = Buffer.from([...Buffer.from('[Peer]\n# caf'), 0xe9, 0xff, 0x0a]);
  assert.deepEqual(parseQuickConfig(bytes).wgConfig, bytes);
  const q = parseQuickConfig('[Interface]\nPostUp = echo ✓ # ✗\nDNS = bücher.example\n');
  assert.deepEqual(q.postUp, ['echo ✓']);
  assert.deepEqual(q.dnsSearch, ['bücher.example']);
  // A BOM is just bytes before `[`: the section header is not recognised (as in wg-quick).
  assert.deepEqual(parseQuickConfig('\ufeff[Interface]\nAddress = 1.1.1.1\n').addresses, []);
});

test('several Endpoint lines in a peer are kept, in order, verbatim', () => {
  const text =
    '[Interface]\nAddress = 10.0.0.2/24\n[Peer]\nEndpoint = 192.0.2.1:1\nendpoint = [2001:db8::1]:2\n';
  assert.equal(kept(text), '[Interface]\n[Peer]\nEndpoint = 192.0.2.1:1\nendpoint = [2001:db8::1]:2\n');
});
