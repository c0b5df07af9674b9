// Records the netlink fixtures in test/fixtures/netlink/ from a real kernel in the test VM:
//   node .build/<name>/test/vm/record-fixtures.js
// Each fixture holds the request wgm sent, every reply datagram the kernel returned (hex), the
// commands that made the device, and what stock wg printed for it, so that the unit tests can
// decode real kernel bytes on a host without wireguard.ko. Keys below are test-only.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD, ROOT } from '../lib/run.js';
import { runInVm, sections } from '../lib/vm.js';

const OPS = join(BUILD, 'test/vm/guest-ops.js');
const OUT = join(ROOT, 'test/fixtures/netlink');

export const KEYS = {
  devicePrivate: '8Ehdu3K3oAzYputqfppa2L7Fb862cFi6CVnT3AfceE0=',
  peer1: 'AKvoRNKTgTXav+MvyowRi4AXPiao7+HtFtcI5hamzWo=',
  peer2: '+N7lJ6P46tUxQJKpIinX43roOEvcGGZYYLpuV+Bw2HU=',
  peer3: 'MPF+6P2kOEuOiA6Rs5O8fKS25EBUHClOnyts7B27SGU=',
  peer4: 'oPQgRLWEAEv2Y5r+TggVCLPdUdKKiHEUFuL0Od0efUc=',
  psk: 'pnmpPu76BiWsu5wb52N/wSwUU/oKGgUuFNTXjwhViCY=',
};

/** 400 prefixes (v4 and v6 mixed) for one peer: more than one 4 KiB dump message holds. */
function manyPrefixes(): string {
  const out: string[] = [];
  for (let i = 0; i < 300; i++) out.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
  for (let i = 0; i < 100; i++) out.push(`fd00:${i.toString(16)}::/48`);
  return out.join(',');
}

const SETUP = [
  'modprobe wireguard',
  'ip link add wgf0 type wireguard',
  'ip link add wgf1 type wireguard',
  'ip link add wgfd type dummy',
  'ip link add wgf2 type wireguard',
  `wg set wgf0 private-key <(echo ${KEYS.devicePrivate}) listen-port 51820 fwmark 0x1234` +
    ` peer ${KEYS.peer1} preshared-key <(echo ${KEYS.psk}) endpoint 192.0.2.1:51820 persistent-keepalive 25` +
    ' allowed-ips 10.0.0.0/24,10.1.0.1/32,fd00::/64,::ffff:192.0.2.0/120,::2:3/128' +
    ` peer ${KEYS.peer2} endpoint [2001:db8::1]:443 allowed-ips 0.0.0.0/0,::/0` +
    ` peer ${KEYS.peer3} endpoint [fe80::1%wgf1]:5`,
  `wg set wgf1 listen-port 51821 peer ${KEYS.peer4} allowed-ips ${manyPrefixes()}` +
    ` peer ${KEYS.peer1} allowed-ips 192.168.7.0/24,192.168.8.1/32`,
];

interface Capture {
  name: string;
  describe: string;
  op: string;
  wg?: string[];
}

const CAPTURES: Capture[] = [
  { name: 'family-wireguard', describe: 'CTRL_CMD_GETFAMILY "wireguard"', op: 'capture-family wireguard' },
  {
    name: 'family-missing',
    describe: 'CTRL_CMD_GETFAMILY of a missing family',
    op: 'capture-family wgm-nosuch',
  },
  { name: 'links', describe: 'RTM_GETLINK dump: lo, wgf0, wgf1, a dummy, wgf2', op: 'capture-links 32768' },
  {
    name: 'get-wgf0',
    describe: 'GET_DEVICE of a device with keys, port, fwmark and three peers',
    op: 'capture-get wgf0 4096',
    wg: ['showconf wgf0', 'show wgf0 dump'],
  },
  {
    name: 'get-wgf1',
    describe: 'GET_DEVICE read with 4 KiB buffers: a 400-prefix peer continued over several messages',
    op: 'capture-get wgf1 4096',
    wg: ['showconf wgf1', 'show wgf1 dump'],
  },
  {
    name: 'get-wgf2',
    describe: 'GET_DEVICE of a fresh device (no key, no peers)',
    op: 'capture-get wgf2 4096',
    wg: ['showconf wgf2', 'show wgf2 dump'],
  },
  { name: 'get-missing', describe: 'GET_DEVICE of a missing interface', op: 'capture-get wgf9 4096' },
  { name: 'get-dummy', describe: 'GET_DEVICE of a non-WireGuard link', op: 'capture-get wgfd 4096' },
];

/** One node start-up for all captures (node is slow to start in the guest), then wg's views. */
function guestScript(dir: string): string {
  const jobs = CAPTURES.map((c) => ({ op: c.op.split(' '), out: `${dir}/${c.name}` }));
  writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
  const lines = ['set -e', ...SETUP, 'set +e', 'echo "=== kernel ==="; uname -r'];
  lines.push(`node ${OPS} batch ${dir}/jobs.json`);
  for (const c of CAPTURES) {
    lines.push(`echo "=== ${c.name} ==="; cat ${dir}/${c.name} ${dir}/${c.name}.err 2>/dev/null`);
    for (const w of c.wg ?? []) lines.push(`echo "=== ${c.name} wg ${w} ==="; wg ${w}`);
  }
  lines.push('true');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-record-'));
  let r: Awaited<ReturnType<typeof runInVm>>;
  try {
    r = await runInVm(guestScript(dir), { timeoutMs: 240_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (r.status !== 0) throw new Error(`VM run failed (${r.status}):\n${r.stderr}`);
  const s = sections(r.stdout);
  mkdirSync(OUT, { recursive: true });
  for (const c of CAPTURES) {
    const fixture = {
      describe: c.describe,
      recordedWith: `test/vm/record-fixtures.ts in the test VM, kernel ${s.get('kernel')}`,
      setup: SETUP,
      ...JSON.parse(s.get(c.name)!),
      wg: Object.fromEntries((c.wg ?? []).map((w) => [w, `${s.get(`${c.name} wg ${w}`)}\n`])),
    };
    writeFileSync(join(OUT, `${c.name}.json`), `${JSON.stringify(fixture, null, 1)}\n`);
    console.log(`wrote ${c.name}.json (${fixture.datagrams.length} datagrams)`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
