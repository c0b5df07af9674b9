// The firewall half of the default-route case (wireguard-tools src/wg-quick/linux.bash:
// add_default, remove_firewall): drop packets for the interface's addresses arriving from
// elsewhere, and carry the fwmark of the tunnel's own UDP packets through conntrack so that
// replies keep it. nftables when `nft` is on PATH, iptables-restore otherwise, as wg-quick.

import { onPath, type Runner } from './run.js';

type Family = 4 | 6;

/** The interface's addresses of one family, from `ip -o -4|-6 addr show dev IF`. */
async function addressesOf(runner: Runner, iface: string, family: Family): Promise<string[]> {
  const r = await runner.query(['ip', '-o', `-${family}`, 'addr', 'show', 'dev', iface]);
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /inet6? ([0-9a-f:.]+)\/[0-9]+/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

export function nftScript(iface: string, family: Family, table: number, addrs: string[]): string {
  const pf = family === 4 ? 'ip' : 'ip6';
  const t = `wg-quick-${iface}`;
  let s = `add table ${pf} ${t}\n`;
  s += `add chain ${pf} ${t} preraw { type filter hook prerouting priority -300; }\n`;
  s += `add chain ${pf} ${t} premangle { type filter hook prerouting priority -150; }\n`;
  s += `add chain ${pf} ${t} postmangle { type filter hook postrouting priority -150; }\n`;
  for (const a of addrs)
    s += `add rule ${pf} ${t} preraw iifname != "${iface}" ${pf} daddr ${a} fib saddr type != local drop\n`;
  s += `add rule ${pf} ${t} postmangle meta l4proto udp mark ${table} ct mark set mark \n`;
  s += `add rule ${pf} ${t} premangle meta l4proto udp meta mark set ct mark \n`;
  return s;
}

export function iptablesRestore(iface: string, table: number, addrs: string[]): string {
  const marker = `-m comment --comment "wg-quick(8) rule for ${iface}"`;
  let s = '*raw\n';
  for (const a of addrs)
    s += `-I PREROUTING ! -i ${iface} -d ${a} -m addrtype ! --src-type LOCAL -j DROP ${marker}\n`;
  s += 'COMMIT\n*mangle\n';
  s += `-I POSTROUTING -m mark --mark ${table} -p udp -j CONNMARK --save-mark ${marker}\n`;
  s += `-I PREROUTING -p udp -j CONNMARK --restore-mark ${marker}\n`;
  s += 'COMMIT\n';
  return s;
}

/** Installs the rules for one family; returns the tool used. */
export async function addFirewall(
  runner: Runner,
  iface: string,
  family: Family,
  table: number,
): Promise<'nft' | 'iptables'> {
  const addrs = await addressesOf(runner, iface, family);
  if (family === 4) await runner.cmd(['sysctl', '-q', 'net.ipv4.conf.all.src_valid_mark=1']);
  if (await onPath(runner, 'nft')) {
    await runner.cmd(['nft', '-f', '-'], {
      input: nftScript(iface, family, table, addrs),
      shown: 'nft -f /dev/fd/63',
    });
    return 'nft';
  }
  const restore = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  await runner.cmd([restore, '-n'], { input: iptablesRestore(iface, table, addrs) });
  return 'iptables';
}

/** remove_firewall: every wg-quick-IF table, every rule with IF's comment; errors ignored. */
export async function removeFirewall(runner: Runner, iface: string): Promise<void> {
  if (await onPath(runner, 'nft')) {
    const tables = await runner.query(['nft', 'list', 'tables']);
    let script = '';
    for (const line of tables.stdout.split('\n'))
      if (line.endsWith(` wg-quick-${iface}`)) script += `delete ${line.replace(/^table /, 'table ')}\n`;
    if (script !== '')
      await runner.cmdIgnore(['nft', '-f', '-'], { input: script, shown: 'nft -f /dev/fd/63' });
  }
  if (await onPath(runner, 'iptables')) {
    const marker = `-m comment --comment "wg-quick(8) rule for ${iface}"`;
    for (const tool of ['iptables', 'ip6tables']) {
      const saved = await runner.query([`${tool}-save`]);
      let restore = '';
      let found = false;
      for (const line of saved.stdout.split('\n')) {
        const ours = line.startsWith('-A ') && line.includes(marker);
        if (!(line.startsWith('*') || line === 'COMMIT' || ours)) continue;
        if (ours) found = true;
        restore += `${line.replace(/^-A/, '-D')}\n`;
      }
      if (found) await runner.cmdIgnore([`${tool}-restore`, '-n'], { input: restore });
    }
  }
}
