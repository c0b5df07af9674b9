// A scene for the completion tests: a private run directory with a live UAPI-like socket (and a
// `.sock' file that is no socket), a private /etc/wireguard stand-in, and a working directory with
// key and configuration files. The completion scripts read the two directories from
// _WGM_COMP_RUN_DIR and _WGM_COMP_CONF_DIR, which only these tests set.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERBS } from '../../../src/cli/commands.js';
import { WG_SHOW_FIELDS } from '../../lib/show-fields.js';

/**
 * wg's show fields (wireguard-tools src/show.c, ugly_print), what every completion offers after
 * `show IFACE'.
 */
export const SHOW_FIELDS = WG_SHOW_FIELDS;

export const VERB_NAMES = VERBS.map((v) => v.name);

/** A public key ending in `=', so that a completer splitting words at `=' would go wrong. */
export const PEER_KEY = 'kD/+TLnYjjObDmDAxC6yiUwK+fRYhYtpVSZz/9I0tnY=';

export interface Scene {
  root: string;
  runDir: string;
  confDir: string;
  cwd: string;
  /** The interface whose socket is live in runDir. */
  iface: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function makeScene(): Promise<Scene> {
  const root = mkdtempSync(join(tmpdir(), 'wgm-docs-'));
  const runDir = join(root, 'run');
  const confDir = join(root, 'conf');
  const cwd = join(root, 'cwd');
  for (const d of [runDir, confDir, cwd, join(cwd, 'keys')]) mkdirSync(d);
  const iface = `docs${process.pid % 100000}`;
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(join(runDir, `${iface}.sock`), resolve);
  });
  writeFileSync(join(runDir, 'notasocket.sock'), '');
  for (const name of ['wg0.conf', 'office.conf', 'bad name.conf', 'waytoolongname1234.conf', 'notes.txt']) {
    writeFileSync(join(confDir, name), '[Interface]\n', { mode: 0o600 });
  }
  for (const name of ['home.conf', 'private.key', 'a=b.key', 'readme.txt'])
    writeFileSync(join(cwd, name), '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: root,
    LANG: 'C',
    _WGM_COMP_RUN_DIR: runDir,
    _WGM_COMP_CONF_DIR: confDir,
  };
  return {
    root,
    runDir,
    confDir,
    cwd,
    iface,
    env,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Splits the `### <line>'-marked output of a batch of completion queries. */
export function splitAnswers(out: string, lines: readonly string[]): Map<string, string[]> {
  const answers = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const l of out.split('\n')) {
    if (l.startsWith('### ')) {
      current = [];
      answers.set(l.slice(4), current);
    } else if (current && l !== '') {
      current.push(l);
    }
  }
  for (const l of lines)
    if (!answers.has(l)) throw new Error(`no answer for ${JSON.stringify(l)} in:\n${out}`);
  return answers;
}

export function sorted(a: readonly string[]): string[] {
  return [...a].sort();
}
