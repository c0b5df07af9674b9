// How wgm-engine's V8 heaps are sized (dataplane/README.md, 'Memory', has the measurements).

import { setFlagsFromString } from 'node:v8';

const GROWTH_FLAG = '--semi-space-growth-factor=1';
let keepSmall = false;

/**
 * V8 starts an isolate's young generation with two 1 MiB semi-spaces and doubles them, up to
 * 16 MiB each on 64-bit, when scavenges find much still alive; it gives the room back only
 * after the isolate has been idle for a while (its memory reducer). One `wg setconf` with 1,000
 * peers grew the main thread's to 16 MiB and left it there. With the growth factor at 1 they
 * stay as they are (measured on Node 20): more scavenges while a large configuration is
 * applied, each of them small. The data path is not concerned: no isolate of the engine
 * collected garbage at all during a 5-second iperf3 run through it. Unlike
 * --max-semi-space-size, this flag still takes effect when set at run time (also measured),
 * so the daemon calls this first thing, whichever way it was started. The workers' young
 * generation is set by their resourceLimits (dataplane/workers.ts).
 */
export function keepYoungGenerationSmall(): void {
  keepSmall = true;
  setFlagsFromString(GROWTH_FLAG);
}

/**
 * V8's flags are per process, and a worker thread puts them back to their defaults as it
 * starts (measured on Node 20, for a worker started from a file: once it had started, the main
 * thread's semi-spaces doubled again up to 16 MiB). The pool calls this while workers start
 * and once each runs; it sets the flag again only in a process that asked for it.
 */
export function afterWorkerStart(): void {
  if (keepSmall) setFlagsFromString(GROWTH_FLAG);
}
