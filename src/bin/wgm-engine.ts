#!/usr/bin/env node
import { keepYoungGenerationSmall } from '../engine/heap.js';

// Before the engine's modules load: loading them alone doubled the young generation (heap.ts).
keepYoungGenerationSmall();
const { main } = await import('../engine/daemon.js');
const code = await main(process.argv.slice(2));
// Worker threads and watchers of a stopped engine must not hold the process open.
process.exit(code);
