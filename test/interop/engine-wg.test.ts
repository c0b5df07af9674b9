// Stock `wg` drives wgm-engine and wireguard-go with the same commands (setconf, set, addconf,
// syncconf), each daemon in its own namespace; what `wg showconf` and the `wg show` fields
// report must be the same. wireguard-go lists peers in random order (a Go map), so peer
// sections are compared as sets; everything inside a section is compared as text.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Daemon, keypair, Lab, ping, tunnel } from '../lib/netns.js';
import { need } from '../lib/run.js';

const NEEDS = { root: true, commands: ['wireguard-go', 'wg', 'ip'] };

/** `wg showconf` with the peer sections sorted. */
function normalizeConf(text: string): string {
  const parts = text.split(/\n(?=\[Peer\])/);
  const head = parts.shift() ?? '';
  return [head, ...parts.map((p) => p.replace(/\n*$/, '\n')).sort()].join('\n');
}

/** One `wg show IF <field>` output with its lines sorted (per-peer fields come in backend order). */
function sortedLines(text: string): string {
  return text.split('\n').filter(Boolean).sort().join('\n');
}

const FIELDS = [
  'public-key',
  'private-key',
  'listen-port',
  'fwmark',
  'peers',
  'endpoints',
  'allowed-ips',
  'persistent-keepalive',
  'preshared-keys',
];

test('stock wg configures wgm-engine exactly as it configures wireguard-go', async (t) => {
  if (!need(t, NEEDS)) return;
  const lab = new Lab('ew');
  t.after(() => lab.cleanup());
  const ours = await lab.daemon('wgm-engine', lab.netns('m'));
  const theirs = await lab.daemon('wireguard-go', lab.netns('g'));
  const both: Daemon[] = [ours, theirs];
  const dev = keypair();
  const [p1, p2, p3, p4] = [keypair(), keypair(), keypair(), keypair()];
  const psk = lab.exec(ours.ns, 'wg', ['genpsk']).stdout.trim();
  const keyFile = lab.file('dev.key', `${dev.priv}\n`);
  const pskFile = lab.file('psk', `${psk}\n`);
  const empty = lab.file('empty', '');

  /** Runs the same wg command against both; they must agree on status and stderr. */
  const wgBoth = (args: (ifname: string) => string[]) => {
    const rs = both.map((d) => lab.exec(d.ns, 'wg', args(d.ifname)));
    const [m, g] = rs as [ReturnType<typeof lab.exec>, ReturnType<typeof lab.exec>];
    const text = (s: string, d: Daemon) => s.replaceAll(d.ifname, 'IF');
    assert.equal(m.status, g.status, `status of wg ${args('IF').join(' ')}: ${m.stderr} / ${g.stderr}`);
    assert.equal(text(m.stderr, ours), text(g.stderr, theirs), `stderr of wg ${args('IF').join(' ')}`);
    return m;
  };
  const compare = (step: string) => {
    const [m, g] = both.map((d) => normalizeConf(lab.wg(d.ns, ['showconf', d.ifname])));
    assert.equal(m, g, `showconf after ${step}`);
    for (const f of FIELDS) {
      const [fm, fg] = both.map((d) => sortedLines(lab.wg(d.ns, ['show', d.ifname, f])));
      assert.equal(fm, fg, `wg show ${f} after ${step}`);
    }
  };

  const conf1 = lab.file(
    'one.conf',
    [
      '[Interface]',
      `PrivateKey = ${dev.priv}`,
      'ListenPort = 51820',
      'FwMark = 0x42',
      '',
      '[Peer]',
      `PublicKey = ${p1.pub}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 10.1.0.0/16, 10.2.3.4/32, fd01::7/64',
      'Endpoint = 192.0.2.10:51820',
      '',
      '[Peer]',
      `PublicKey = ${p2.pub}`,
      'AllowedIPs = 10.3.0.1/24',
      'Endpoint = [2001:db8::5]:4444',
      'PersistentKeepalive = 25',
      '',
      '[Peer]',
      `PublicKey = ${p3.pub}`,
      'AllowedIPs = 0.0.0.0/0, ::/0',
      '',
    ].join('\n'),
  );
  wgBoth((i) => ['setconf', i, conf1]);
  compare('setconf');

  wgBoth((i) => ['set', i, 'listen-port', '51999', 'fwmark', '0']);
  wgBoth((i) => [
    'set',
    i,
    'peer',
    p1.pub,
    'remove',
    'peer',
    p4.pub,
    'allowed-ips',
    '10.9.9.0/24',
    'endpoint',
    '198.51.100.1:1',
  ]);
  wgBoth((i) => [
    'set',
    i,
    'peer',
    p2.pub,
    'persistent-keepalive',
    'off',
    'preshared-key',
    pskFile,
    'allowed-ips',
    '10.3.0.0/24,10.4.0.0/16',
  ]);
  // A prefix another peer holds moves to this one.
  wgBoth((i) => [
    'set',
    i,
    'peer',
    p4.pub,
    'allowed-ips',
    '10.9.9.0/24,10.4.0.0/16',
    'endpoint',
    '[2001:db8::9]:9',
  ]);
  compare('set');
  // A scoped IPv6 endpoint: wg sends `%lo`, which both accept and drop (wireguard-go's rule).
  wgBoth((i) => ['set', i, 'peer', p4.pub, 'endpoint', '[fe80::9%lo]:9']);
  compare('a scoped endpoint');

  const conf2 = lab.file(
    'two.conf',
    [
      '[Interface]',
      `PrivateKey = ${dev.priv}`,
      'ListenPort = 51820',
      '[Peer]',
      `PublicKey = ${p3.pub}`,
      'AllowedIPs = 10.30.0.0/16',
      '[Peer]',
      `PublicKey = ${p1.pub}`,
      'AllowedIPs = 10.1.0.0/16',
      'Endpoint = 192.0.2.11:51820',
      '',
    ].join('\n'),
  );
  wgBoth((i) => ['syncconf', i, conf2]);
  compare('syncconf');

  const conf3 = lab.file(
    'three.conf',
    ['[Peer]', `PublicKey = ${p2.pub}`, 'AllowedIPs = 10.20.0.0/16', 'PersistentKeepalive = 5', ''].join(
      '\n',
    ),
  );
  wgBoth((i) => ['addconf', i, conf3]);
  compare('addconf');

  // A peer with the interface's own public key is ignored; an empty key file removes the key.
  wgBoth((i) => ['set', i, 'peer', dev.pub, 'allowed-ips', '10.99.0.0/16']);
  compare('a peer with our own key');
  wgBoth((i) => ['set', i, 'private-key', empty]);
  compare('removing the private key');
  wgBoth((i) => ['set', i, 'private-key', keyFile]);
  compare('setting it again');

  // Errors the daemons report: a port in use.
  // Each holder says `bound` once the port is its own; a fixed wait lost that race under load.
  await Promise.all(
    both.map((d) => {
      const holder = lab.spawn(d.ns, process.execPath, [
        '-e',
        "const s=require('dgram').createSocket('udp4'); s.bind(53222,()=>console.log('bound')); setTimeout(()=>{},60000)",
      ]);
      return new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (b: Buffer) => b.toString().includes('bound') && resolve());
        holder.once('exit', (code) => reject(new Error(`the port holder in ${d.ns} exited (${code})`)));
      });
    }),
  );
  const r = wgBoth((i) => ['set', i, 'listen-port', '53222']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Address already in use/);
});

test('link-local endpoints: the engine sends to [fe80::…] and learns its peer with the scope', async (t) => {
  if (!need(t, NEEDS)) return;
  const lab = new Lab('el');
  t.after(() => lab.cleanup());
  const tn = await tunnel(lab, 'wgm-engine', 'wireguard-go', { subnet: 236 });
  // Addresses of our own (nodad: usable at once).
  lab.ip(tn.a.ns, 'addr', 'add', 'fe80::a/64', 'dev', tn.vethA, 'nodad');
  lab.ip(tn.b.ns, 'addr', 'add', 'fe80::b/64', 'dev', tn.vethB, 'nodad');
  // The UAPI drops the zone of a set (as wireguard-go does): the engine starts with [fe80::b].
  lab.wg(tn.a.ns, [
    'set',
    tn.a.ifname,
    'peer',
    tn.b.key.pub,
    'endpoint',
    `[fe80::b%${tn.vethA}]:${tn.b.port}`,
  ]);
  lab.wg(tn.b.ns, [
    'set',
    tn.b.ifname,
    'peer',
    tn.a.key.pub,
    'endpoint',
    `[fe80::a%${tn.vethB}]:${tn.a.port}`,
  ]);
  const shown = () => lab.wg(tn.a.ns, ['show', tn.a.ifname, 'endpoints']).trim();
  assert.equal(shown(), `${tn.b.key.pub}\t[fe80::b]:${tn.b.port}`);
  assert.ok(ping(lab, tn.a, tn.b.inner.v4), 'the engine initiates over the link-local path');
  assert.ok(ping(lab, tn.b, tn.a.inner.v6), 'and answers over it');
  // wireguard-go's packets arrive with the veth's index as scope; the engine follows that
  // source (roaming), keeps the index, and wg prints it as the interface name.
  assert.equal(shown(), `${tn.b.key.pub}\t[fe80::b%${tn.vethA}]:${tn.b.port}`);
  assert.ok(ping(lab, tn.a, tn.b.inner.v6), 'traffic goes on to the scoped endpoint');
});
