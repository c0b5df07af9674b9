// UDP through a tunnel in bursts, for the interop tests of the offloads: run as a program
// inside a namespace (`node udp-burst.js send ADDR COUNT` / `node udp-burst.js sink ADDR
// COUNT`). The sender hands the kernel super-datagrams with UDP_SEGMENT (sys/udp-gso.ts, the
// project's own sender), SEGMENTS datagrams of SIZE bytes at a time, so a TUN with USO gives
// the engine UDP super-packets to split; the datagrams arrive close together, so a receiving
// engine has runs of one flow to merge. Each datagram carries its sequence number and bytes
// derived from it; the sink prints `<intact> <damaged>` once COUNT arrived or it went quiet.

import { createSocket } from 'node:dgram';
import { allocNative, freeNative } from '../../src/sys/native.js';
import { type RawAddr, UdpSocket } from '../../src/sys/udp.js';
import { UdpGsoSender } from '../../src/sys/udp-gso.js';

export const BURST_PORT = 7788;
export const BURST_SIZE = 1200;
const SEGMENTS = 16;

/** Datagram `seq`'s bytes. */
function fillDatagram(out: Uint8Array, at: number, seq: number): void {
  new DataView(out.buffer, out.byteOffset + at, 4).setUint32(0, seq);
  for (let k = 4; k < BURST_SIZE; k++) out[at + k] = (seq * 31 + k) & 0xff;
}

function intact(d: Buffer): boolean {
  if (d.length !== BURST_SIZE) return false;
  const seq = d.readUInt32BE(0);
  for (let k = 4; k < BURST_SIZE; k++) if (d[k] !== ((seq * 31 + k) & 0xff)) return false;
  return true;
}

function parseAddr(text: string): RawAddr {
  if (text.includes(':')) {
    const words = text.split('::');
    const head = words[0] ? words[0].split(':') : [];
    const tail = words[1] ? words[1].split(':') : [];
    const all = [...head, ...new Array(8 - head.length - tail.length).fill('0'), ...tail];
    const address = new Uint8Array(16);
    all.forEach((w, i) => {
      const v = Number.parseInt(w, 16);
      address[2 * i] = v >> 8;
      address[2 * i + 1] = v & 0xff;
    });
    return { family: 6, address, port: BURST_PORT, scopeId: 0 };
  }
  return { family: 4, address: Uint8Array.from(text.split('.').map(Number)), port: BURST_PORT, scopeId: 0 };
}

async function send(addr: string, count: number): Promise<void> {
  const to = parseAddr(addr);
  const sock = UdpSocket.open({ port: 0, family: to.family });
  const sender = new UdpGsoSender(sock.fd, sock.family);
  const mem = allocNative(SEGMENTS * BURST_SIZE);
  try {
    for (let seq = 0; seq < count; ) {
      const n = Math.min(SEGMENTS, count - seq);
      for (let i = 0; i < n; i++) fillDatagram(mem.bytes, i * BURST_SIZE, seq + i);
      const r = sender.send(to, mem.addr, n * BURST_SIZE, BURST_SIZE);
      if (r < 0 && r !== -11) throw new Error(`send failed: errno ${-r}`);
      if (r > 0) seq += n;
      await new Promise((ok) => setTimeout(ok, 4)); // paced: the sink's buffer is not the test
    }
    console.log(`sent ${count} gso ${sender.gso ? 'on' : `off (errno ${sender.refusedBy})`}`);
  } finally {
    freeNative(mem);
    sender.free();
    sock.close();
  }
}

function sink(addr: string, count: number): void {
  // A buffer for a whole burst (up to net.core.rmem_max): a loaded machine may not schedule
  // the sink before the next one, and what is measured is the tunnel, not this socket.
  const s = createSocket({ type: addr.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
  let good = 0;
  let bad = 0;
  let quiet: NodeJS.Timeout | undefined;
  const done = () => {
    console.log(`${good} ${bad}`);
    process.exit(0);
  };
  s.on('message', (d) => {
    if (intact(d)) good++;
    else bad++;
    if (good + bad >= count) done();
    clearTimeout(quiet);
    quiet = setTimeout(done, 1500);
  });
  s.bind(BURST_PORT, addr, () => console.log('ready'));
  setTimeout(done, 20_000);
}

const [mode, addr, count] = process.argv.slice(2);
if (mode === 'send') await send(addr!, Number(count));
else if (mode === 'sink') sink(addr!, Number(count));
