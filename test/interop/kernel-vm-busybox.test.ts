// The VM harness with a dynamically linked busybox (Debian's `busybox` package, which
// initramfs-tools pulls in on most hosts) instead of busybox-static: run-in-vm.sh copies the
// libraries and the loader that ldd names into the initramfs, the guest boots from it and runs
// kernel WireGuard. The binary is the host's when it is dynamic; otherwise the `busybox` package
// is fetched with `apt-get download` and unpacked in a temp dir (nothing is installed). One boot,
// with a private initramfs cache.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { need, run, which } from '../lib/run.js';
import { runInVm, vmKernelInstalled } from '../lib/vm.js';

function dynamic(path: string): boolean {
  const r = run('ldd', [path], { env: { ...process.env, LC_ALL: 'C' } });
  return r.status === 0 && /ld-linux/.test(r.stdout);
}

/** A dynamic busybox binary, or undefined with `t` skipped (the reason given). */
function dynamicBusybox(t: TestContext, dir: string): string | undefined {
  const host = which('busybox');
  if (host && dynamic(host)) return host;
  if (!which('apt-get') || !which('dpkg')) {
    t.skip('needs a dynamic busybox: the host has none and no apt-get to fetch one');
    return undefined;
  }
  const dl = run('apt-get', ['download', '-q', 'busybox'], { cwd: dir, timeoutMs: 120_000 });
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (dl.status !== 0 || !deb) {
    t.skip(`needs a dynamic busybox: \`apt-get download busybox' failed: ${dl.stderr.trim()}`);
    return undefined;
  }
  const x = run('dpkg', ['-x', join(dir, deb), join(dir, 'root')]);
  assert.equal(x.status, 0, x.stderr);
  const bin = ['bin/busybox', 'usr/bin/busybox'].map((p) => join(dir, 'root', p)).find((p) => existsSync(p));
  assert.ok(bin, `no busybox binary in ${deb}`);
  assert.ok(dynamic(bin), `${bin} from ${deb} is not dynamically linked`);
  return bin;
}

test('run-in-vm: an initramfs built from a dynamic busybox boots and runs kernel WireGuard', {
  timeout: 420_000,
}, async (t) => {
  if (!need(t, { root: true, commands: ['qemu-system-x86_64', 'wg', 'cpio', 'ldd'] })) return;
  assert.ok(
    vmKernelInstalled(),
    'no kernel with wireguard.ko for the VM (test/setup-system.sh installs one)',
  );
  const dir = mkdtempSync(join(tmpdir(), 'wgm-vmbb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const busybox = dynamicBusybox(t, dir);
  if (!busybox) return;
  const cache = join(dir, 'cache');
  const r = await runInVm(
    [
      'modprobe wireguard',
      'ip link add wgt0 type wireguard',
      'wg set wgt0 private-key <(wg genkey) listen-port 51999',
      'ip link set wgt0 up',
      'wg show wgt0 listen-port',
      'cat /sys/module/wireguard/initstate',
    ].join(' && '),
    { timeoutMs: 300_000, env: { VM_BUSYBOX: busybox, VM_CACHE: cache } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '51999\nlive\n');
  // The initramfs really is the dynamic one: busybox with its loader and libc beside it.
  const initrd = readdirSync(cache).filter((f) => f.endsWith('.cpio.gz'));
  assert.equal(initrd.length, 1, `initramfs files in the cache: ${initrd.join(', ')}`);
  const list = run('bash', ['-c', `gzip -dc ${join(cache, initrd[0]!)} | cpio -t --quiet`]);
  assert.equal(list.status, 0, list.stderr);
  const files = list.stdout.split('\n');
  assert.ok(files.includes('bin/busybox'), list.stdout);
  assert.ok(
    files.some((f) => /^lib64\/ld-linux-x86-64\.so\.2$|^lib\/ld-linux/.test(f)),
    `no dynamic loader in the initramfs:\n${list.stdout}`,
  );
  assert.ok(
    files.some((f) => /\/libc\.so\.6$/.test(f)),
    `no libc in the initramfs:\n${list.stdout}`,
  );
});
