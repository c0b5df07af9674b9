// Captures netlink traffic inside the test VM from an nlmon device (drivers/net/nlmon.c): every
// netlink message any process sends or receives is seen on it as one packet. The tests use it
// to record exactly what stock wg sends to the kernel and compare wgm's encoder with it.
// Test-only: an AF_PACKET ring through koffi (openPacketRing: each message is copied when sent,
// before the kernel wipes the keys in it), polling for a stop file between packets.

import { existsSync, writeFileSync } from 'node:fs';
import { openPacketRing } from '../lib/packet-socket.js';

/**
 * Records packets from `ifname` as hex lines into `out` until `stopFile` exists (or `maxMs`
 * passes). Writes `readyFile` once the socket is bound, so a script can start its commands.
 */
export function captureNlmon(
  ifname: string,
  out: string,
  readyFile: string,
  stopFile: string,
  maxMs = 600_000,
) {
  // One netlink skb is at most 32 KiB (netlink_dump's cap, net/netlink/af_netlink.c), so it
  // fits a 256 KiB block; 256 blocks (64 MiB) hold some 15,000 of wg's 4 KiB requests.
  const sock = openPacketRing(ifname, { timeoutMs: 200, blockSize: 1 << 18, blocks: 256 });
  const lines: string[] = [];
  try {
    writeFileSync(readyFile, '');
    const buf = new Uint8Array(1 << 17);
    const start = Date.now();
    while (Date.now() - start < maxMs) {
      const n = sock.recv(buf);
      if (n >= 0) {
        lines.push(Buffer.from(buf.subarray(0, n)).toString('hex'));
        continue;
      }
      // Stop only once the queue is drained: a receive timeout after the stop file appeared.
      if (existsSync(stopFile)) break;
    }
    const drops = sock.drops();
    if (drops > 0) throw new Error(`nlmon capture: the kernel dropped ${drops} packets (ring full)`);
  } finally {
    sock.close();
    writeFileSync(out, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  }
  return lines.length;
}
