#!/usr/bin/env node
import { main } from '../engine/daemon.js';

const code = await main(process.argv.slice(2));
// Worker threads and watchers of a stopped engine must not hold the process open.
process.exit(code);
