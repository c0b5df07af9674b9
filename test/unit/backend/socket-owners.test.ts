// socketOwners: the process behind a UAPI socket is found by the socket's inode in
// /proc/PID/net/unix, which lists the name the socket was bound to. wgm-engine binds
// `IF.sock.PID.tmp` and renames it into place, so that name must count as IF's too.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { socketOwners } from '../../../src/backend/probe.js';

async function listening(path: string): Promise<() => Promise<void>> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return () => new Promise((resolve) => server.close(() => resolve()));
}

test('a socket bound as IF.sock or as IF.sock.PID.tmp belongs to the process listening on it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgm-owners-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const wg = join(dir, 'wireguard');
  mkdirSync(wg);
  const closeA = await listening(join(wg, `own${process.pid}a.sock`));
  const closeB = await listening(join(wg, `own${process.pid}b.sock.${process.pid}.tmp`));
  try {
    const owners = socketOwners();
    assert.equal(owners.get(`own${process.pid}a`)?.pid, process.pid);
    assert.equal(owners.get(`own${process.pid}b`)?.pid, process.pid);
  } finally {
    await closeA();
    await closeB();
  }
});
