// CTRL_CMD_GETFAMILY (linux/genetlink.h): the request as wg sends it, and the id read from a
// real controller reply recorded in the test VM.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFamilyId, encodeGetFamily } from '../../../../src/backend/netlink/family.js';
import { readReply } from '../../../../src/backend/netlink/transport.js';
import { bytes, fixture } from './fixtures.js';

test('the GETFAMILY request: type GENL_ID_CTRL, REQUEST|ACK, cmd 3 version 1, CTRL_ATTR_FAMILY_NAME', () => {
  const name = [...Buffer.from('wireguard\0')];
  const expected = [
    36,
    0,
    0,
    0, // nlmsg_len 16 + 4 + 16
    0x10,
    0, // GENL_ID_CTRL
    0x05,
    0, // NLM_F_REQUEST | NLM_F_ACK
    9,
    0,
    0,
    0, // seq
    0,
    0,
    0,
    0, // pid
    3,
    1,
    0,
    0, // CTRL_CMD_GETFAMILY, version 1
    14,
    0,
    2,
    0,
    ...name,
    0,
    0, // nla_len 14 ("wireguard\0"), CTRL_ATTR_FAMILY_NAME, 2 bytes padding
  ];
  assert.deepEqual([...encodeGetFamily('wireguard').finish(9)], expected);
});

test('the family id in a recorded controller reply is the id the recorded GET_DEVICE used', () => {
  const f = fixture('family-wireguard');
  const ids: number[] = [];
  let complete = false;
  for (const d of f.datagrams) {
    const dg = bytes(d);
    const port = new DataView(dg.buffer, dg.byteOffset).getUint32(12, true);
    complete = readReply(dg, 1000, port, (m) => ids.push(decodeFamilyId(m)));
  }
  assert.equal(complete, true, 'the reply ends with an ACK');
  assert.deepEqual(ids, [fixture('get-wgf0').familyId]);
  assert.ok(ids[0]! >= 0x10, 'dynamic family ids start above GENL_ID_CTRL');
});
