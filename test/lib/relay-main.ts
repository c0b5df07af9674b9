// The relay of relay.ts as a process, for namespace tests, the bench and demos:
//
//   node dist/test/lib/relay-main.js --listen 10.9.1.1:51820 --target 10.9.2.2:51820 \
//        [--upstream HOST:PORT] [--fwd delay=40,jitter=5] [--rev loss=0.1] [--seed N] [--control PATH]
//
// Prints "ready {listen, upstream}" once bound. Then reads commands, one per line, from stdin
// and from the Unix socket PATH when given ("fwd delay=80", "both blackhole=1", "stats"), and
// answers each with "ok <json>" or "error <message>". Ends on SIGTERM or SIGINT.

import { unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseHostPort, Relay } from './relay.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      target: { type: 'string' },
      upstream: { type: 'string' },
      fwd: { type: 'string' },
      rev: { type: 'string' },
      seed: { type: 'string' },
      control: { type: 'string' },
    },
  });
  if (!values.listen || !values.target)
    throw new Error('--listen HOST:PORT and --target HOST:PORT are required');
  const relay = new Relay({
    listen: parseHostPort(values.listen),
    target: parseHostPort(values.target),
    ...(values.upstream ? { upstream: parseHostPort(values.upstream) } : {}),
    seed: values.seed ? Number(values.seed) : 1,
  });
  // Initial impairments go through the same parser as run-time commands.
  if (values.fwd) relay.command(`fwd ${values.fwd.replaceAll(',', ' ')}`);
  if (values.rev) relay.command(`rev ${values.rev.replaceAll(',', ' ')}`);
  const bound = await relay.start();
  const answer = (line: string): string => {
    try {
      return `ok ${relay.command(line)}`;
    } catch (e) {
      return `error ${(e as Error).message}`;
    }
  };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim()) process.stdout.write(`${answer(line)}\n`);
  });
  const control = values.control;
  const server = control
    ? createServer((conn) => {
        createInterface({ input: conn }).on('line', (line) => {
          if (line.trim()) conn.write(`${answer(line)}\n`);
        });
      })
    : undefined;
  if (server && control) {
    try {
      unlinkSync(control);
    } catch {}
    await new Promise<void>((resolve) => server.listen(control, resolve));
  }
  const stop = (): void => {
    relay.close();
    rl.close();
    server?.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`ready ${JSON.stringify(bound)}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`relay: ${e.message}\n`);
  process.exit(2);
});
