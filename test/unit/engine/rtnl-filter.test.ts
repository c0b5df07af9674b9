// Which rtnetlink notifications count as a network change (src/engine/rtnl-filter.ts), on
// datagrams captured from Linux 6.12 in a fresh namespace (`ip addr add`, `ip route add` on
// a veth of index 3) and on messages built from the uapi layouts (ifinfomsg, ifaddrmsg, rtmsg)
// for the cases a capture cannot stage cheaply. Malformed input is ignored, never thrown on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attrs, messages, NetChangeFilter } from '../../../src/engine/rtnl-filter.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// `ip addr add 192.0.2.1/24 dev va` (va = index 3): RTM_NEWADDR, then three RTM_NEWROUTE:
// the local route and the broadcast route (table local) and the prefix route (table main).
const NEWADDR4 = hex(`4c00000014000000a568116b22590000021880000300000008000100c000020108000200c0000201
  0700030076610000080008008000000014000600ffffffffffffffff58bd250058bd2500`);
const LOCAL_ROUTE = hex(`3c00000018000006000000000000000002200000ff02fe020000000008000f00ff000000
  08000100c000020108000700c00002010800040003000000`);
const PREFIX_ROUTE = hex(`3c00000018000006000000000000000002180000fe02fd010000000008000f00fe000000
  08000100c000020008000700c00002010800040003000000`);
// `ip route add 198.51.100.0/24 via 192.0.2.2`, then `ip route del` of it.
const NEWROUTE_VIA = hex(`3c00000018000006a568116b3259000002180000fe0300010000000008000f00fe000000
  08000100c633640008000500c00002020800040003000000`);
const DELROUTE_VIA = hex(`3c00000019000000a568116b5159000002180000fe0300010000000008000f00fe000000
  08000100c633640008000500c00002020800040003000000`);
// `ip addr add 2001:db8::1/64 dev va nodad`: RTM_NEWADDR with IFA_FLAGS = PERMANENT|NODAD.
const NEWADDR6 = hex(`480000001400000000000000000000000a408200030000001400010020010db800000000
  000000000000000114000600ffffffffffffffff6fbd25006fbd25000800080082000000`);

/** An nlmsghdr of `type` around `body`. */
function msg(type: number, body: Uint8Array): Uint8Array {
  const len = 16 + body.length;
  const out = new Uint8Array((len + 3) & ~3);
  const v = new DataView(out.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  out.set(body, 16);
  return out;
}

/** An rtattr of `type` holding `payload`, padded to 4 bytes. */
function attr(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array((4 + payload.length + 3) & ~3);
  new DataView(out.buffer).setUint16(0, 4 + payload.length, true);
  new DataView(out.buffer).setUint16(2, type, true);
  out.set(payload, 4);
  return out;
}

const u32le = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** RTM_NEWLINK / RTM_DELLINK (16/17) for `index` with ifi_flags `flags`. */
function link(type: 16 | 17, index: number, flags: number, family = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[0] = family;
  v.setInt32(4, index, true);
  v.setUint32(8, flags, true);
  return msg(type, b);
}

const UP_RUNNING = 0x1 | 0x40 | 0x10000;

/** RTM_NEWADDR / RTM_DELADDR (20/21) of 2001:db8::2/64 on `index` with IFA_FLAGS `flags`. */
function addr6(type: 20 | 21, index: number, flags: number): Uint8Array {
  const head = new Uint8Array(8);
  head[0] = 10;
  head[1] = 64;
  new DataView(head.buffer).setUint32(4, index, true);
  const a = hex('20010db8000000000000000000000002');
  return msg(type, cat(head, attr(1, a), attr(8, u32le(flags))));
}

/** RTM_NEWROUTE of 203.0.113.0/24 in table `table` through `oif`, with rtm_flags `flags`. */
function route4(oif: number | number[], table = 254, flags = 0): Uint8Array {
  const head = new Uint8Array(12);
  head[0] = 2;
  head[1] = 24;
  head[4] = table < 256 ? table : 252; // RT_TABLE_COMPAT: the id is in RTA_TABLE
  new DataView(head.buffer).setUint32(8, flags, true);
  const parts = [head, attr(1, hex('cb007100')), attr(15, u32le(table))];
  if (typeof oif === 'number') parts.push(attr(4, u32le(oif)));
  else {
    // RTA_MULTIPATH: one struct rtnexthop (len, flags, hops, ifindex) per path.
    const hops = oif.map((i) => {
      const h = new Uint8Array(8);
      new DataView(h.buffer).setUint16(0, 8, true);
      new DataView(h.buffer).setInt32(4, i, true);
      return h;
    });
    parts.push(attr(9, cat(...hops)));
  }
  return msg(24, cat(...parts));
}

const filter = (own = 7) => new NetChangeFilter(() => own);

test('the captured messages parse: types, lengths and attributes', () => {
  assert.deepEqual(
    messages(NEWADDR4).map((m) => [m.type, m.body.length]),
    [[20, 60]],
  );
  const a = attrs(messages(NEWADDR4)[0]!.body, 8, 60);
  assert.deepEqual([...a.keys()], [1, 2, 3, 8, 6]);
  assert.equal(Buffer.from(a.get(3)!).toString('latin1'), 'va\0');
  // Several messages in one datagram are all seen.
  assert.deepEqual(
    messages(cat(NEWADDR4, LOCAL_ROUTE)).map((m) => m.type),
    [20, 24],
  );
});

test('an address and a route on another interface are changes; the local table is not', () => {
  const f = filter();
  assert.deepEqual(f.changes([NEWADDR4, LOCAL_ROUTE, PREFIX_ROUTE]), [
    'address 192.0.2.1/24 on #3 added',
    'route 192.0.2.0/24 dev #3 added',
  ]);
  assert.deepEqual(f.changes([NEWROUTE_VIA]), ['route 198.51.100.0/24 via 192.0.2.2 dev #3 added']);
  assert.deepEqual(f.changes([DELROUTE_VIA]), ['route 198.51.100.0/24 via 192.0.2.2 dev #3 removed']);
  assert.deepEqual(f.changes([NEWADDR6]), ['address 2001:db8::1/64 on #3 added']);
});

test("the engine's own interface: its addresses, routes and link are no change", () => {
  const f = filter(3);
  assert.deepEqual(f.changes([NEWADDR4, LOCAL_ROUTE, PREFIX_ROUTE, NEWROUTE_VIA, NEWADDR6]), []);
  assert.deepEqual(f.changes([link(16, 3, UP_RUNNING), link(17, 3, UP_RUNNING)]), []);
  // A multipath route counts unless every next hop is the own interface.
  assert.deepEqual(f.changes([route4([3, 3])]), []);
  assert.deepEqual(f.changes([route4([3, 4])]), ['route 203.0.113.0/24 dev #3,#4 added']);
});

test('an address announced again unchanged is no change; its removal is', () => {
  const f = filter();
  f.seed([NEWADDR4]);
  // A router advertisement refreshing lifetimes re-sends RTM_NEWADDR for the same address.
  assert.deepEqual(f.changes([NEWADDR4]), []);
  const del = NEWADDR4.slice();
  del[4] = 21; // RTM_DELADDR
  assert.deepEqual(f.changes([del]), ['address 192.0.2.1/24 on #3 removed']);
  assert.deepEqual(f.changes([del]), []);
});

test('a tentative IPv6 address counts once duplicate address detection ends', () => {
  const f = filter();
  assert.deepEqual(f.changes([addr6(20, 4, 0x40)]), []); // IFA_F_TENTATIVE
  assert.deepEqual(f.changes([addr6(20, 4, 0x80)]), ['address 2001:db8::2/64 on #4 added']);
  assert.deepEqual(f.changes([addr6(20, 4, 0x80 | 0x20)]), ['address 2001:db8::2/64 on #4 deprecated']);
  assert.deepEqual(f.changes([addr6(21, 4, 0x80 | 0x20)]), ['address 2001:db8::2/64 on #4 removed']);
  // One that failed detection was never usable: its coming and going is no change.
  assert.deepEqual(f.changes([addr6(20, 4, 0x40), addr6(20, 4, 0x08), addr6(21, 4, 0x08)]), []);
});

test('links count when they start or stop running, not on other news', () => {
  const f = filter();
  f.seed([link(16, 4, UP_RUNNING), link(16, 5, 0)]);
  assert.deepEqual(f.changes([link(16, 4, UP_RUNNING)]), []); // e.g. an MTU change
  assert.deepEqual(f.changes([link(16, 5, 0x1)]), []); // up, no carrier
  assert.deepEqual(f.changes([link(16, 5, UP_RUNNING)]), ['link #5 up']);
  assert.deepEqual(f.changes([link(16, 4, 0x1)]), ['link #4 down']);
  assert.deepEqual(f.changes([link(17, 5, UP_RUNNING)]), ['link #5 removed']);
  assert.deepEqual(f.changes([link(17, 4, 0x1)]), []); // was down already
  assert.deepEqual(f.changes([link(16, 6, UP_RUNNING, 7)]), []); // AF_BRIDGE port news
});

test('cloned routes (IPv6 cache, PMTU exceptions) and the local table are no change', () => {
  const f = filter();
  assert.deepEqual(f.changes([route4(4, 254, 0x200)]), []);
  assert.deepEqual(f.changes([route4(4, 255)]), []);
  // Any other table counts (policy routing, wg-quick's table for another interface).
  assert.deepEqual(f.changes([route4(4, 51820)]), ['route 203.0.113.0/24 dev #4 added']);
});

test('malformed datagrams are ignored, never thrown on', () => {
  const f = filter();
  const bad = [
    new Uint8Array(0),
    new Uint8Array(15),
    NEWADDR4.subarray(0, 40), // length says 76: cut off
    msg(20, new Uint8Array(3)), // ifaddrmsg too short
    msg(24, new Uint8Array(8)), // rtmsg too short
    msg(16, new Uint8Array(10)), // ifinfomsg too short
    msg(20, cat(new Uint8Array([2, 24, 0, 0, 4, 0, 0, 0]), attr(2, hex('c00002')))), // 3-byte address
    msg(20, cat(new Uint8Array([2, 24, 0, 0, 4, 0, 0, 0]), hex('ff00 0200 c0000201'))), // rta_len past the end
    (() => {
      const d = NEWADDR4.slice();
      new DataView(d.buffer).setUint32(0, 8, true); // nlmsg_len below the header
      return d;
    })(),
  ];
  for (const d of bad) assert.deepEqual(f.changes([d]), [], Buffer.from(d).toString('hex'));
  // The random tail of any message never throws.
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 24;
  };
  for (let i = 0; i < 2000; i++) {
    const d = [NEWADDR4, NEWROUTE_VIA, NEWADDR6][i % 3]!.slice();
    for (let k = 0; k < 4; k++) d[16 + (rnd() % (d.length - 16))] = rnd();
    f.changes([d.subarray(0, 16 + (rnd() % (d.length - 15)))]);
  }
});
