// Listing kernel WireGuard links (wireguard-tools src/ipc-linux.h,
// kernel_get_wireguard_interfaces): the RTM_GETLINK request written out by hand, and a real
// rtnetlink dump recorded in the test VM.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeLink, encodeGetLinks, isWireGuardLink } from '../../../../src/backend/netlink/links.js';
import { readReply } from '../../../../src/backend/netlink/transport.js';
import { bytes, fixture } from './fixtures.js';

test('RTM_GETLINK request: REQUEST|ACK|DUMP and a zeroed ifinfomsg (AF_UNSPEC)', () => {
  const expected = [
    32,
    0,
    0,
    0, // nlmsg_len: 16 + 16
    18,
    0, // RTM_GETLINK
    0x05,
    0x03, // NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP
    5,
    0,
    0,
    0, // seq
    0,
    0,
    0,
    0, // pid
    ...new Array(16).fill(0), // struct ifinfomsg, family AF_UNSPEC
  ];
  assert.deepEqual([...encodeGetLinks().finish(5)], expected);
});

test('the recorded dump yields the wireguard links in dump order, not the dummy or lo', () => {
  const f = fixture('links');
  const all: string[] = [];
  const wg: string[] = [];
  let complete = false;
  for (const d of f.datagrams) {
    const dg = bytes(d);
    const port = new DataView(dg.buffer, dg.byteOffset).getUint32(12, true);
    complete = readReply(dg, 1000, port, (m) => {
      const link = decodeLink(m);
      if (!link) return;
      all.push(link.name ?? '?');
      if (isWireGuardLink(link)) wg.push(link.name);
    });
  }
  assert.equal(complete, true);
  assert.deepEqual(all, ['lo', 'wgf0', 'wgf1', 'wgfd', 'wgf2']);
  assert.deepEqual(wg, ['wgf0', 'wgf1', 'wgf2']);
});
