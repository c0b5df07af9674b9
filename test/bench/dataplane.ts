// The data plane's AEAD options, per packet, on one thread: how many WireGuard transport
// packets per second each can seal (and open), for a small and a full-MTU packet.
//
//   node:crypto        createCipheriv per packet (crypto/aead.ts), the portable path
//   libcrypto (koffi)  OpenSSL EVP through koffi on native memory (sys/libcrypto.ts), in place
//   @noble/ciphers     pure JavaScript
//   libsodium (koffi)  one call per packet (sys/libcrypto.ts), used by 'native' up to 1500 bytes
//
// Run: node <build>/test/bench/dataplane.js [seconds-per-case]. Printed, never asserted.

import { createCipheriv } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { counterNonce } from '../../src/crypto/aead.js';
import { EvpChaChaPoly, libsodiumAvailable, SodiumChaChaPoly } from '../../src/sys/libcrypto.js';
import { allocNative, freeNative } from '../../src/sys/native.js';

export interface CryptoRow {
  impl: string;
  size: number;
  op: 'seal' | 'open';
  packetsPerSec: number;
  gbitPerSec: number;
}

const KEY = new Uint8Array(32).fill(7);

function measure(seconds: number, fn: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) fn(i); // warm up (JIT, caches)
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < end) {
    for (let k = 0; k < 256; k++) fn(n++);
    now = process.hrtime.bigint();
  }
  return n / (Number(now - t0) / 1e9);
}

type Impl = {
  name: string;
  make: (size: number) => { seal: (i: number) => void; open?: (i: number) => void; done: () => void };
};

function impls(): Impl[] {
  const list: Impl[] = [
    {
      name: 'node:crypto',
      make: (size) => {
        const pt = new Uint8Array(size);
        const nonce = new Uint8Array(12);
        return {
          seal: (i) => {
            const c = createCipheriv('chacha20-poly1305', KEY, counterNonce(i, nonce), { authTagLength: 16 });
            c.update(pt);
            c.final();
            c.getAuthTag();
          },
          done: () => {},
        };
      },
    },
    {
      name: 'libcrypto (koffi)',
      make: (size) => {
        const enc = new EvpChaChaPoly(KEY, true);
        const dec = new EvpChaChaPoly(KEY, false);
        const mem = allocNative(size + 64);
        const sealed = allocNative(size + 64);
        enc.sealAt(1, mem.addr, size, sealed.addr);
        return {
          seal: (i) => enc.sealAt(i, mem.addr, size, mem.addr),
          open: () => {
            if (!dec.openAt(1, sealed.addr, size + 16, mem.addr)) throw new Error('open failed');
          },
          done: () => {
            enc.free();
            dec.free();
            freeNative(mem);
            freeNative(sealed);
          },
        };
      },
    },
    {
      name: '@noble/ciphers',
      make: (size) => {
        const pt = new Uint8Array(size);
        const nonce = new Uint8Array(12);
        return { seal: (i) => chacha20poly1305(KEY, counterNonce(i, nonce)).encrypt(pt), done: () => {} };
      },
    },
  ];
  if (libsodiumAvailable())
    list.push({
      name: 'libsodium (koffi)',
      make: (size) => {
        const enc = new SodiumChaChaPoly(KEY);
        const mem = allocNative(size + 64);
        const sealed = allocNative(size + 64);
        enc.sealAt(1, mem.addr, size, sealed.addr);
        return {
          seal: (i) => enc.sealAt(i, mem.addr, size, mem.addr),
          open: () => {
            if (!enc.openAt(1, sealed.addr, size + 16, mem.addr)) throw new Error('open failed');
          },
          done: () => {
            enc.free();
            freeNative(mem);
            freeNative(sealed);
          },
        };
      },
    });
  return list;
}

export function benchDataplaneCrypto(seconds = 1, sizes = [64, 1420]): CryptoRow[] {
  const rows: CryptoRow[] = [];
  for (const size of sizes) {
    for (const impl of impls()) {
      const runner = impl.make(size);
      try {
        for (const op of ['seal', 'open'] as const) {
          const fn = op === 'seal' ? runner.seal : runner.open;
          if (!fn) continue;
          const pps = measure(impl.name === '@noble/ciphers' ? seconds / 2 : seconds, fn);
          rows.push({ impl: impl.name, size, op, packetsPerSec: pps, gbitPerSec: (pps * size * 8) / 1e9 });
        }
      } finally {
        runner.done();
      }
    }
  }
  return rows;
}

export function printCryptoRows(rows: CryptoRow[]): void {
  console.log('AEAD per packet, one thread (ChaCha20-Poly1305, WireGuard nonce)');
  console.log(
    `${'implementation'.padEnd(20)} ${'bytes'.padStart(6)} ${'op'.padEnd(5)} ${'packets/s'.padStart(11)} ${'Gbit/s'.padStart(7)}`,
  );
  for (const r of rows)
    console.log(
      `${r.impl.padEnd(20)} ${String(r.size).padStart(6)} ${r.op.padEnd(5)} ${Math.round(r.packetsPerSec).toLocaleString('en-US').padStart(11)} ${r.gbitPerSec.toFixed(2).padStart(7)}`,
    );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printCryptoRows(benchDataplaneCrypto(Number(process.argv[2] ?? 1)));
}
