// The VM harness itself (test/vm/run-in-vm.sh, test/lib/vm.ts): the command's exit status and
// separate stdout/stderr come back, it runs in the host's working directory on a kernel with
// wireguard.ko, host files are visible but guest writes are thrown away, a timeout gives 125,
// and nothing is left behind. Two VM boots.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { need, ROOT } from '../lib/run.js';
import { runInVm, VM_FAILURE, vmKernelInstalled } from '../lib/vm.js';

test('run-in-vm: status, streams, cwd, kernel, throwaway writes', { timeout: 300_000 }, async (t) => {
  if (!need(t, { root: true, commands: ['qemu-system-x86_64'] })) return;
  assert.ok(
    vmKernelInstalled(),
    'no kernel with wireguard.ko for the VM (test/setup-system.sh installs one)',
  );
  const runDir = mkdtempSync(join(tmpdir(), 'wgm-vmtest-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const marker = `wgm-vm-write-${process.pid}`;
  const r = await runInVm(
    [
      'echo to-stdout; echo to-stderr >&2',
      'pwd',
      'modprobe wireguard && test -d /sys/module/wireguard && echo wireguard-loaded',
      'cat <(echo process-substitution)',
      `touch ${marker} && echo wrote`,
      'exit 7',
    ].join('\n'),
    { timeoutMs: 240_000, env: { TMPDIR: runDir } },
  );
  assert.equal(r.status, 7, r.stderr);
  assert.equal(r.stdout, `to-stdout\n${ROOT}\nwireguard-loaded\nprocess-substitution\nwrote\n`);
  assert.equal(r.stderr, 'to-stderr\n');
  assert.equal(existsSync(join(ROOT, marker)), false, 'a guest write reached the host');
  assert.deepEqual(readdirSync(runDir), [], 'the run directory was not removed');
  assert.ok(
    readdirSync('/var/cache/wgm-vm').some((f) => /^initrd-.*\.cpio\.gz$/.test(f)),
    'the initramfs is cached in /var/cache/wgm-vm',
  );
});

test('run-in-vm: a command that outlives the timeout ends with status 125', {
  timeout: 300_000,
}, async (t) => {
  if (!need(t, { root: true, commands: ['qemu-system-x86_64'] })) return;
  const runDir = mkdtempSync(join(tmpdir(), 'wgm-vmtest-'));
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const started = Date.now();
  const r = await runInVm('echo started; sleep 600', { timeoutMs: 25_000, env: { TMPDIR: runDir } });
  assert.equal(r.status, VM_FAILURE);
  assert.match(r.stderr, /timed out after 25s/);
  assert.ok(Date.now() - started < 60_000, 'the timeout was not enforced');
  assert.deepEqual(readdirSync(runDir), [], 'the run directory was not removed');
});
