#!/usr/bin/env node
import { main } from '../cli/main.js';

// A reader that goes away (`wgm show | head`) ends wgm quietly, as SIGPIPE ends wg: status
// 128 + SIGPIPE, no stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
}

process.exitCode = await main(process.argv.slice(2));
