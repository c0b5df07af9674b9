// Picking stock wg's requests out of an nlmon capture (test/vm/nlmon.ts) and comparing them
// byte for byte with what wgm's encoder writes for the same change. Sequence numbers differ
// by design (wg uses the clock) and are masked; everything else must be identical.

import { readFileSync } from 'node:fs';
import { getStr, type MessageBuilder, parseAttrs } from '../../src/backend/netlink/attrs.js';
import { GENL_ID_CTRL, NLM_F_REQUEST, WGDEVICE_A_IFNAME } from '../../src/backend/netlink/constants.js';
import { splitMessages } from '../../src/backend/netlink/messages.js';

/** Requests (NLM_F_REQUEST) of generic netlink family `type` and command `cmd`, in capture order. */
export function capturedRequests(
  captureFile: string,
  type: number,
  cmd: number,
  ifname?: string,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const line of readFileSync(captureFile, 'utf8').split('\n')) {
    if (!line) continue;
    const packet = new Uint8Array(Buffer.from(line, 'hex'));
    let at = 0;
    for (const m of splitMessages(packet)) {
      const len = 16 + m.payload.length;
      const raw = packet.slice(at, at + len);
      at += (len + 3) & ~3;
      if (m.type !== type || !(m.flags & NLM_F_REQUEST) || m.payload[0] !== cmd) continue;
      if (ifname !== undefined && type !== GENL_ID_CTRL) {
        const name = parseAttrs(m.payload, 4).find((a) => a.type === WGDEVICE_A_IFNAME);
        if (!name || getStr(name) !== ifname) continue;
      }
      out.push(raw);
    }
  }
  return out;
}

export interface Comparison {
  wg: number;
  wgm: number;
  equal: boolean;
  /** The first message and byte offset that differ. */
  firstDiff?: { message: number; offset: number; wg?: string; wgm?: string };
}

function masked(m: Uint8Array): Uint8Array {
  const c = m.slice();
  c.fill(0, 8, 12);
  return c;
}

export function compareRequests(wg: Uint8Array[], wgm: Iterable<MessageBuilder>): Comparison {
  const ours = [...wgm].map((m) => m.finish(0));
  const n = Math.max(wg.length, ours.length);
  for (let i = 0; i < n; i++) {
    const a = wg[i] ? masked(wg[i]!) : undefined;
    const b = ours[i] ? masked(ours[i]!) : undefined;
    if (a && b && a.length === b.length && a.every((x, j) => x === b[j])) continue;
    let offset = 0;
    while (a && b && offset < Math.min(a.length, b.length) && a[offset] === b[offset]) offset++;
    const hex = (x?: Uint8Array) =>
      x ? Buffer.from(x.subarray(offset, offset + 48)).toString('hex') : undefined;
    const firstDiff: Comparison['firstDiff'] = { message: i, offset };
    if (a) firstDiff.wg = hex(a);
    if (b) firstDiff.wgm = hex(b);
    return { wg: wg.length, wgm: ours.length, equal: false, firstDiff };
  }
  return { wg: wg.length, wgm: ours.length, equal: true };
}
