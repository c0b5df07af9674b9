// Encoding WG_CMD_SET_DEVICE and splitting it like wg (wireguard-tools src/ipc-linux.h,
// kernel_set_device; attributes from src/uapi/linux/linux/wireguard.h): one message built by hand
// from the attribute tables, and the structure of a 130,000-prefix change split into 4 KiB
// messages. (The live tests in test/interop/kernel-*.test.ts compare the split byte for byte with
// what stock wg sends, captured on an nlmon device.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Attr, parseAttrs } from '../../../../src/backend/netlink/attrs.js';
import { encodeSetDevice, setIfname } from '../../../../src/backend/netlink/device-set.js';
import { NetlinkError } from '../../../../src/backend/netlink/errors.js';
import type { ScopeNames } from '../../../../src/backend/netlink/sockaddr.js';
import { type AllowedIP, type Device, newDevice, newPeer } from '../../../../src/model/index.js';

const scopes: ScopeNames = { nameOf: () => undefined, indexOf: (n) => (n === 'eth9' ? 7 : 0) };
const key = (b: number) => new Uint8Array(32).fill(b);
const attr = (type: number, payload: number[] | Uint8Array): number[] => {
  const len = 4 + payload.length;
  return [len & 255, len >> 8, type & 255, type >> 8, ...payload, ...new Array((4 - (len % 4)) % 4).fill(0)];
};
const nest = (type: number, ...children: number[][]) => attr(type | 0x8000, children.flat());
const u32 = (v: number) => [v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24];

function messages(change: Device, name = 'wg0', capacity?: number): Uint8Array[] {
  return [...encodeSetDevice(35, name, change, scopes, capacity)].map((m) => m.finish(1));
}

test('one SET message, byte for byte, in wg attribute order', () => {
  const change = newDevice({ privateKey: key(0x11), listenPort: 51820, fwmark: 0x1234, replacePeers: true });
  change.peers.push(
    newPeer({
      publicKey: key(0x22),
      presharedKey: key(0x33),
      endpoints: [{ addr: { family: 4, address: '192.0.2.1', port: 51820 } }],
      persistentKeepalive: 25,
      replaceAllowedIPs: true,
      allowedIPs: [
        { family: 4, address: Uint8Array.of(10, 0, 0, 0), cidr: 24 },
        { family: 6, address: Uint8Array.of(0xfd, ...new Array(15).fill(0)), cidr: 64, remove: true },
      ],
    }),
  );
  const body = [
    ...attr(2, [0x77, 0x67, 0x30, 0]), // WGDEVICE_A_IFNAME "wg0"
    ...attr(3, key(0x11)), // WGDEVICE_A_PRIVATE_KEY
    ...attr(6, [0x6c, 0xca]), // WGDEVICE_A_LISTEN_PORT 51820 (host order)
    ...attr(5 + 2, u32(0x1234)), // WGDEVICE_A_FWMARK
    ...attr(5, u32(1)), // WGDEVICE_A_FLAGS: REPLACE_PEERS
    ...nest(
      8, // WGDEVICE_A_PEERS
      nest(
        0,
        attr(1, key(0x22)), // WGPEER_A_PUBLIC_KEY
        attr(2, key(0x33)), // WGPEER_A_PRESHARED_KEY
        attr(4, [2, 0, 0xca, 0x6c, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]), // sockaddr_in, port in network order
        attr(5, [25, 0]), // WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL
        attr(3, u32(2)), // WGPEER_A_FLAGS: REPLACE_ALLOWEDIPS
        nest(
          9, // WGPEER_A_ALLOWEDIPS
          nest(0, attr(1, [2, 0]), attr(2, [10, 0, 0, 0]), attr(3, [24])),
          nest(
            0,
            attr(1, [10, 0]),
            attr(2, [0xfd, ...new Array(15).fill(0)]),
            attr(3, [64]),
            attr(4, u32(1)),
          ),
        ),
      ),
    ),
  ];
  const len = 16 + 4 + body.length;
  const expected = [...u32(len), 35, 0, 0x05, 0, ...u32(1), ...u32(0), 1, 1, 0, 0, ...body];
  const out = messages(change);
  assert.equal(out.length, 1);
  assert.deepEqual([...out[0]!], expected);
});

test('a change without peers is one message with IFNAME and what was set, and no PEERS nest', () => {
  const [m, ...rest] = messages(newDevice({ listenPort: 0 }));
  assert.equal(rest.length, 0);
  assert.deepEqual(
    parseAttrs(m!, 20).map((a) => a.type),
    [2, 6],
  );
});

test('IPv6 endpoints are sockaddr_in6 with the scope as an interface index; the last endpoint wins', () => {
  const change = newDevice();
  change.peers.push(
    newPeer({
      publicKey: key(1),
      endpoints: [
        { addr: { family: 4, address: '192.0.2.1', port: 1 } },
        { addr: { family: 6, address: 'fe80::1', port: 443, scope: 'eth9' } },
      ],
    }),
  );
  const peer = parseAttrs(parseAttrs(parseAttrs(messages(change)[0]!, 20)[1]!.data)[0]!.data);
  const ep = peer.find((a) => a.type === 4)!;
  assert.deepEqual(
    [...ep.data],
    [10, 0, 0x01, 0xbb, 0, 0, 0, 0, 0xfe, 0x80, ...new Array(13).fill(0), 1, 7, 0, 0, 0],
  );
});

test('an unresolved endpoint or a peer without a key is refused before anything is sent', () => {
  const einval = (change: Device) =>
    assert.throws(
      () => messages(change),
      (e: unknown) => e instanceof NetlinkError && e.errno === 22,
    );
  einval(newDevice({ peers: [newPeer({ publicKey: key(1), endpoints: [{ spec: 'host:1' }] })] }));
  einval(newDevice({ peers: [newPeer()] }));
  einval(
    newDevice({
      peers: [
        newPeer({
          publicKey: key(1),
          endpoints: [{ addr: { family: 6, address: 'fe80::1', port: 1, scope: 'nope0' } }],
        }),
      ],
    }),
  );
});

test('names longer than 15 bytes are cut, as wg copies them into IFNAMSIZ', () => {
  assert.deepEqual([...setIfname('abcdefghijklmnopqrst')], [...Buffer.from('abcdefghijklmno\0')]);
  assert.deepEqual([...setIfname('wg0')], [...Buffer.from('wg0\0')]);
});

test('a peer that can never fit fails with EMSGSIZE instead of looping', () => {
  const change = newDevice({ peers: [newPeer({ publicKey: key(1), presharedKey: key(2) })] });
  assert.throws(
    () => messages(change, 'wg0', 100),
    (e: unknown) => e instanceof NetlinkError && e.errno === 90,
  );
});

// --- 130,000 prefixes ---

function prefixes(): AllowedIP[][] {
  const a: AllowedIP[] = [];
  for (let i = 0; i < 100_000; i++)
    a.push({ family: 4, address: Uint8Array.of(10, i >> 16, (i >> 8) & 255, i & 255), cidr: 32 });
  const b: AllowedIP[] = [];
  for (let i = 0; i < 20_000; i++) {
    const address = new Uint8Array(16);
    address.set([0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i >> 8, i & 255]);
    b.push({ family: 6, address, cidr: 128 });
  }
  const c: AllowedIP[] = [];
  for (let i = 0; i < 10_000; i++)
    c.push({ family: 4, address: Uint8Array.of(11, i >> 8, i & 255, 0), cidr: 24 });
  return [a, b, c];
}

function bigChange(): Device {
  const [a, b, c] = prefixes();
  return newDevice({
    privateKey: key(9),
    replacePeers: true,
    peers: [
      newPeer({
        publicKey: key(1),
        presharedKey: key(2),
        endpoints: [{ addr: { family: 4, address: '192.0.2.1', port: 51820 } }],
        persistentKeepalive: 25,
        replaceAllowedIPs: true,
        allowedIPs: a!,
      }),
      newPeer({ publicKey: key(3), allowedIPs: b! }),
      newPeer({ publicKey: key(4), updateOnly: true, replaceAllowedIPs: true, allowedIPs: c! }),
    ],
  });
}

const types = (attrs: Attr[]) => attrs.map((a) => a.type);

test('130,000 prefixes: messages of at most 4096 bytes, device attributes first, every prefix once in order', () => {
  const change = bigChange();
  const out = messages(change);
  assert.ok(out.length > 500, `${out.length} messages`);
  const fragments: { key: number; types: number[]; flags?: number; ips: Attr[] }[] = [];
  out.forEach((m, i) => {
    assert.ok(m.length <= 4096, `message ${i} is ${m.length} bytes`);
    const top = parseAttrs(m, 20);
    assert.deepEqual(types(top), i === 0 ? [2, 3, 5, 8] : [2, 8], `top-level attributes of message ${i}`);
    for (const p of parseAttrs(top[top.length - 1]!.data)) {
      const attrs = parseAttrs(p.data);
      const flags = attrs.find((a) => a.type === 3);
      const ipsNest = attrs.find((a) => a.type === 9);
      fragments.push({
        key: attrs[0]!.data[0]!,
        types: types(attrs),
        ...(flags
          ? { flags: new DataView(flags.data.buffer, flags.data.byteOffset).getUint32(0, true) }
          : {}),
        ips: ipsNest ? parseAttrs(ipsNest.data) : [],
      });
    }
  });
  // First fragments carry everything; continuations only the key, per-fragment flags and IPs.
  const byKey = (k: number) => fragments.filter((f) => f.key === k);
  const [first1, ...rest1] = byKey(1);
  assert.deepEqual(first1!.types, [1, 2, 4, 5, 3, 9]);
  assert.equal(first1!.flags, 2);
  for (const f of rest1) assert.deepEqual(f.types, [1, 9]);
  for (const f of byKey(3)) assert.deepEqual(f.types, [1, 9]);
  const [first4, ...rest4] = byKey(4);
  assert.equal(first4!.flags, 4 | 2, 'UPDATE_ONLY and REPLACE_ALLOWEDIPS on the first fragment');
  for (const f of rest4)
    assert.equal(f.flags, 4, 'UPDATE_ONLY on every continuation, REPLACE_ALLOWEDIPS never');
  // Peers stay in order and their prefixes come back complete and in order.
  assert.deepEqual([...new Set(fragments.map((f) => f.key))], [1, 3, 4]);
  change.peers.forEach((peer, i) => {
    const got = byKey([1, 3, 4][i]!).flatMap((f) => f.ips);
    assert.equal(got.length, peer.allowedIPs.length);
    got.forEach((ipNest, j) => {
      const [, addr, cidr] = parseAttrs(ipNest.data);
      const want = peer.allowedIPs[j]!;
      if (addr!.data.length !== want.address.length || !addr!.data.every((b, k) => b === want.address[k])) {
        assert.fail(`peer ${i} prefix ${j} differs`);
      }
      assert.equal(cidr!.data[0], want.cidr);
    });
  });
});

test('130,000 prefixes: a message ends only when the next prefix would not have fit (wg fills each one)', () => {
  const change = bigChange();
  const out = messages(change);
  let continuations = 0;
  const peersOf = (m: Uint8Array) =>
    parseAttrs(parseAttrs(m, 20).find((a) => a.type === 8)!.data).map((p) => parseAttrs(p.data));
  for (let i = 0; i + 1 < out.length; i++) {
    const last = peersOf(out[i]!).at(-1)!;
    const firstOfNext = peersOf(out[i + 1]!)[0]!;
    if (last[0]!.data[0] !== firstOfNext[0]!.data[0]) continue; // the next message starts a new peer
    const ips = firstOfNext.find((a) => a.type === 9)!;
    continuations++;
    const firstIP = parseAttrs(ips.data)[0]!;
    const size = 4 + firstIP.data.length;
    assert.ok(
      out[i]!.length + size > 4096,
      `message ${i} (${out[i]!.length} bytes) had room for a ${size}-byte prefix`,
    );
  }
  assert.ok(
    continuations >= out.length - 3,
    `${continuations} of ${out.length - 1} boundaries continue a peer`,
  );
});
