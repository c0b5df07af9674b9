// A tiny DNS server on loopback for tests: it answers A and AAAA questions from a table, each
// type after its own delay, with TTLs, and NXDOMAIN for names not in the table.

import { createSocket, type Socket } from 'node:dgram';
import { type Lookup, systemLookup } from '../../src/engine/resolve.js';

export interface Answer {
  addrs: string[];
  ttl: number;
  delay: number;
}

export const TYPE_A = 1;
export const TYPE_AAAA = 28;

export class TinyDns {
  readonly zone = new Map<string, { A?: Answer; AAAA?: Answer }>();
  readonly queries: { name: string; type: number; at: number }[] = [];
  private sock: Socket | undefined;
  port = 0;

  async start(): Promise<void> {
    const s = createSocket('udp4');
    this.sock = s;
    s.on('message', (q, from) => this.answer(q, from.port, from.address));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    this.port = s.address().port;
  }

  lookup(): Lookup {
    return systemLookup([`127.0.0.1:${this.port}`]);
  }

  private answer(q: Buffer, port: number, host: string): void {
    let off = 12;
    const labels: string[] = [];
    while (q[off]! > 0) {
      labels.push(q.subarray(off + 1, off + 1 + q[off]!).toString('ascii'));
      off += 1 + q[off]!;
    }
    off++;
    const type = q.readUInt16BE(off);
    const question = q.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    this.queries.push({ name, type, at: performance.now() });
    const rec = this.zone.get(name)?.[type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : ('none' as 'A')];
    const answers = (rec?.addrs ?? []).map((a) => {
      const rdata = type === TYPE_A ? Buffer.from(a.split('.').map(Number)) : Buffer.from(v6(a));
      const head = Buffer.alloc(12);
      head.writeUInt16BE(0xc00c, 0); // the question's name
      head.writeUInt16BE(type, 2);
      head.writeUInt16BE(1, 4);
      head.writeUInt32BE(rec!.ttl, 6);
      head.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([head, rdata]);
    });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.readUInt16BE(0), 0);
    // QR, RD as asked, RA; NXDOMAIN for names not in the zone.
    header.writeUInt16BE(0x8180 | (this.zone.has(name) ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const reply = Buffer.concat([header, question, ...answers]);
    setTimeout(() => this.sock?.send(reply, port, host), rec?.delay ?? 0);
  }

  close(): void {
    this.sock?.close();
  }
}

function v6(text: string): number[] {
  const [h = '', t = ''] = text.split('::');
  const w = (s: string) => (s ? s.split(':').map((x) => Number.parseInt(x, 16)) : []);
  const hw = w(h);
  const tw = w(t);
  const all = [...hw, ...new Array<number>(8 - hw.length - tw.length).fill(0), ...tw];
  return all.flatMap((x) => [x >> 8, x & 0xff]);
}

export async function withDns(fn: (dns: TinyDns) => Promise<void>): Promise<void> {
  const dns = new TinyDns();
  await dns.start();
  try {
    await fn(dns);
  } finally {
    dns.close();
  }
}
