// The twin corpus of test/interop/kernel-cli.test.ts: config files and `set` lines that stock wg
// applies to a kernel device X and wgm to its twin Y (both down, created fresh, given the same
// base), after which `wg showconf` of both must be identical. Error cases are included: both
// must fail alike and leave the devices alike. The `refuse-*` cases are wgm's multi-endpoint
// refusal, where wg (keeping the last endpoint) and wgm (refusing) are meant to differ.

import { K1, K2, K3, PRIV, PRIV2, PSK } from '../lib/keys.js';
import type { TwinJob } from './cli-guest.js';

/** Writes a file for the guest and returns its path. */
export type FileWriter = (name: string, content: string) => string;

// More peers than test/lib/keys.ts has (canonical base64 of arbitrary 32 bytes).
const K4 = 'W3l6ZXRhLWZvdXItcGVlci1rZXktZm9yLXR3aW5zISE=';
const K5 = 'AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=';

const BASE = `[Interface]
PrivateKey = ${PRIV}
ListenPort = 51820
FwMark = 0x42

[Peer]
PublicKey = ${K1}
PresharedKey = ${PSK}
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25
AllowedIPs = 10.0.0.0/24, fd00::/64

[Peer]
PublicKey = ${K2}
Endpoint = [fe80::1%lo]:443
AllowedIPs = 10.0.1.0/24

[Peer]
PublicKey = ${K3}
AllowedIPs = 0.0.0.0/0, ::/0
`;

function manyPrefixes(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++)
    out.push(i % 5 === 4 ? `fd09:${i.toString(16)}::/64` : `10.9.${i & 255}.${i >> 8}/32`);
  return out.join(', ');
}

/** [name, verb, config text, base?, the line of the error in the text] */
const CONFIGS: [string, 'setconf' | 'addconf' | 'syncconf', string, boolean, number?][] = [
  ['full', 'setconf', BASE, false],
  [
    'spelling',
    'setconf',
    `# leading comment\n[interface]\nprivatekey=${PRIV2}   # trailing comment\n  LISTENPORT = 0\nfwmark = off\n\n[PEER]\npublickey = ${K4}\nallowedips = 10.0.0.1 , fd00::1,10.2.0.0/16\nAllowedIPs=\n\n`,
    false,
    10,
  ],
  [
    'repeats',
    'setconf',
    `[Interface]\nListenPort = 1\nListenPort = 65535\n[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.1.0.0/16\nAllowedIPs = 10.2.0.0/16\nPersistentKeepalive = 7\nPersistentKeepalive = off\n[Peer]\nPublicKey = ${K2}\n[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.3.0.0/16\n`,
    false,
  ],
  [
    'endpoint-forms',
    'setconf',
    `[Peer]\nPublicKey = ${K1}\nEndpoint = [::ffff:192.0.2.7]:1\n[Peer]\nPublicKey = ${K2}\nEndpoint = 192.0.2.8:65535\n[Peer]\nPublicKey = ${K3}\nEndpoint = [2001:db8::1]:7\n[Peer]\nPublicKey = ${K4}\nEndpoint = [fe80::99%1]:9\nAllowedIPs = 10.4.0.0/16\n`,
    false,
  ],
  ['many-prefixes', 'setconf', `[Peer]\nPublicKey = ${K5}\nAllowedIPs = ${manyPrefixes(600)}\n`, false],
  ['empty-on-base', 'setconf', '', true],
  [
    'addconf',
    'addconf',
    `[Interface]\nListenPort = 51999\n[Peer]\nPublicKey = ${K1}\nEndpoint = 198.51.100.7:1234\nAllowedIPs = 10.0.9.0/24\n[Peer]\nPublicKey = ${K4}\nAllowedIPs = 10.0.4.0/24\nPersistentKeepalive = 0\n`,
    true,
  ],
  [
    'syncconf',
    'syncconf',
    `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\n[Peer]\nPublicKey = ${K2}\nEndpoint = [fe80::1%lo]:444\nAllowedIPs = 10.0.1.0/24, 10.0.2.0/24\n[Peer]\nPublicKey = ${K5}\nPresharedKey = ${PSK}\n`,
    true,
  ],
  ['bad-key', 'setconf', `[Peer]\nPublicKey = ${K1.slice(1)}\nAllowedIPs = 10.0.0.0/8\n`, true, 2],
  ['unknown-line', 'setconf', `[Interface]\nListenPort = 5\nFoo = bar\n`, true, 3],
];

/** [name, the words after `set IF`, base?] (`PRIV2FILE`/`PSKFILE` are replaced by key files) */
const SETS: [string, string[], boolean][] = [
  ['device', ['listen-port', '51830', 'fwmark', '0x10', 'private-key', 'PRIV2FILE'], false],
  ['new-peer', ['peer', K1, 'allowed-ips', '10.1.0.0/16,fd01::/64', 'endpoint', '192.0.2.9:9'], false],
  [
    'peer-options',
    ['peer', K4, 'persistent-keepalive', '10', 'preshared-key', 'PSKFILE', 'endpoint', '[2001:db8::9]:99'],
    true,
  ],
  ['remove-and-clear', ['peer', K1, 'remove', 'peer', K2, 'allowed-ips', ''], true],
  ['clear-device', ['fwmark', 'off', 'listen-port', '0', 'private-key', '/dev/null'], true],
  ['scoped-endpoint', ['peer', K5, 'endpoint', '[fe80::1%lo]:5', 'allowed-ips', '::/0'], false],
  ['keepalive-off-psk-null', ['peer', K1, 'persistent-keepalive', 'off', 'preshared-key', '/dev/null'], true],
  ['two-peers', ['peer', K2, 'endpoint', '198.51.100.1:1', 'peer', K5, 'allowed-ips', '10.5.5.5'], true],
  ['bad-peer-key', ['peer', 'notakey', 'allowed-ips', '10.0.0.0/8'], true],
  ['bad-word', ['bogus'], true],
];

const MULTI = `[Peer]\nPublicKey = ${K1}\nEndpoint = 192.0.2.1:51820\nEndpoint = 198.51.100.1:51820\nAllowedIPs = 10.0.0.0/24\n`;

export function twinCorpus(file: FileWriter): TwinJob[] {
  const base = file('twin-base.conf', BASE);
  const keyFiles: Record<string, string> = {
    PRIV2FILE: file('twin-priv2.key', `${PRIV2}\n`),
    PSKFILE: file('twin-psk.key', `${PSK}\n`),
  };
  const jobs: TwinJob[] = [];
  const add = (name: string, hasBase: boolean, words: (dev: string) => string[], errorLine?: number) => {
    const n = jobs.length;
    const x = `vct${n}x`;
    const y = `vct${n}y`;
    const job: TwinJob = { name, x, y, wg: words(x), wgm: words(y) };
    if (hasBase) job.base = base;
    if (errorLine !== undefined) job.errorLine = errorLine;
    jobs.push(job);
  };
  for (const [name, verb, text, hasBase, errorLine] of CONFIGS) {
    const conf = file(`twin-${name}.conf`, text);
    add(`${verb}-${name}`, hasBase, (d) => [verb, d, conf], errorLine);
  }
  for (const [name, words, hasBase] of SETS)
    add(`set-${name}`, hasBase, (d) => ['set', d, ...words.map((w) => keyFiles[w] ?? w)]);
  const multi = file('twin-multi.conf', MULTI);
  add('refuse-setconf', true, (d) => ['setconf', d, multi]);
  add('refuse-set', true, (d) => [
    'set',
    d,
    'peer',
    K2,
    'endpoint',
    '192.0.2.3:3',
    'endpoint',
    '192.0.2.4:4',
  ]);
  return jobs;
}
