// How wgm-engine's V8 heaps are sized (dataplane/README.md, 'Memory', has the measurements).

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mallocTrim } from '../sys/libc.js';

/** V8's semi-space growth factor when left alone: each growth doubles the young generation. */
const V8_GROWTH = 2;
/** The current growth factor, or undefined while V8's defaults stand (library use, tests). */
let growth: number | undefined;

function setGrowth(factor: number): void {
  growth = factor;
  setFlagsFromString(`--semi-space-growth-factor=${factor}`);
}

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
 * generation is set by their resourceLimits (dataplane/workers.ts). A handshake flood lets it
 * grow for a while (HandshakeNursery).
 */
export function keepYoungGenerationSmall(): void {
  setGrowth(1);
}

/**
 * V8's flags are per process, and a worker thread puts them back to their defaults as it
 * starts (measured on Node 20, for a worker started from a file: once it had started, the main
 * thread's semi-spaces doubled again up to 16 MiB). The pool calls this while workers start
 * and once each runs; it sets the flag again only in a process that set it.
 */
export function afterWorkerStart(): void {
  if (growth !== undefined) setGrowth(growth);
}

/** The semi-space growth factor in force, or undefined if the engine left V8's default. */
export function youngGenerationGrowth(): number | undefined {
  return growth;
}

/** Handshake messages within a second that let the young generation grow. */
const BUSY_HANDSHAKES = 200;
/** How long after the last such second it is kept small again. */
const CALM_AFTER_MS = 30_000;

/**
 * Lets the main thread's young generation grow while handshake messages pour in, and keeps it
 * small again (above) once they have stopped for CALM_AFTER_MS.
 *
 * Answering a handshake allocates ~7 KB (hash outputs, the keypair and its keys, the response,
 * the messages to the workers), and most of it dies within tens of milliseconds, when the same
 * initiator's next handshake replaces that keypair. With 1 MiB semi-spaces a flood fills the
 * nursery every few tens of milliseconds, while much of it is still alive: measured with
 * test/bench/handshake-profile.ts (100 initiators, ~2,400 handshakes/s, three 5 s rounds), the
 * responder's main thread ran 1,071 scavenges taking 1.18 s and promoted enough to grow its old
 * space to 28.5 MiB; with V8's own growth, 78 scavenges taking 0.45 s and 17 MiB. The room a
 * flood took is given back by V8's memory reducer once the daemon is idle again.
 */
export class HandshakeNursery {
  private second = Number.NEGATIVE_INFINITY;
  private count = 0;
  private busyUntil = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** `n` handshake messages reached the main thread. */
  note(n = 1): void {
    if (growth === undefined) return;
    const now = this.clock();
    if (now - this.second >= 1000) {
      this.second = now;
      this.count = 0;
    }
    this.count += n;
    if (this.count < BUSY_HANDSHAKES) return;
    this.busyUntil = now + CALM_AFTER_MS;
    if (growth === V8_GROWTH) return;
    setGrowth(V8_GROWTH);
    this.timer = setTimeout(() => this.calm(), CALM_AFTER_MS);
    this.timer.unref();
  }

  /** Keeps it small again if the flood is over, or looks again when it could be. */
  calm(): void {
    const left = this.busyUntil - this.clock();
    if (left > 0) {
      this.timer = setTimeout(() => this.calm(), left);
      this.timer.unref();
      return;
    }
    this.timer = undefined;
    if (growth === V8_GROWTH) setGrowth(1);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Heap growth since the last collection that makes a quiet engine collect at once. */
const COLLECT_GROWTH_BYTES = 4 * 1024 * 1024;
/** How long the UAPI must stay quiet after a set before that collection. */
const COLLECT_QUIET_MS = 250;

/**
 * Collects the main thread's garbage once a configuration change is over, when the change
 * left the heap at least COLLECT_GROWTH_BYTES above what the last collection kept.
 *
 * Applying a large configuration leaves its garbage (request lines, parsed values, the
 * intermediate tables) in the old generation: with the young generation kept small (above),
 * what survives two scavenges is promoted. V8 would collect it when the old generation reaches
 * its next limit, which an idle daemon never does, or through its memory reducer, which starts
 * ~8 s after the last full collection and then waits for the mutator to look idle: measured on
 * Node 20, a `wg setconf` of 1,000 peers left ~4 MiB of garbage for 8-25 s (the heap's used
 * size 17.5 MiB, 13.5 after a full collection). Two collections in a row: the first one's
 * sweeping runs on helper threads, and the second, finding it done, gives the emptied pages
 * back at once (resident memory 1 s after that setconf: 96-97 MiB without, 95.7 after one
 * collection, 92.8-93.5 after two, which took 13 and 11 ms). A daemon between configuration
 * changes has nothing better to do; small changes (a peer's endpoint, a `wg set` of one key)
 * never reach the threshold, so the data path and the handshake path never pay for it.
 * Then the C heap's free pages go back too (malloc_trim(3)): 1 s after that setconf, 76.6-77.4
 * MiB resident over four runs against 77.4-78.9 over three without (the freed native memory
 * of parsing and compiling the change otherwise stays in glibc's arenas).
 */
export class QuietCollector {
  /** Collections run so far. */
  collections = 0;
  private baseline = getHeapStatistics().used_heap_size;
  private timer: NodeJS.Timeout | undefined;

  /**
   * `collect` runs the collection; by default V8's own, fetched when first needed (it lives in
   * a context of its own, which a daemon that never takes a large change need not make; null
   * where V8 refuses it).
   */
  constructor(
    private collect: (() => void) | null | undefined = undefined,
    private readonly growth = COLLECT_GROWTH_BYTES,
    private readonly quietMs = COLLECT_QUIET_MS,
  ) {}

  /** A configuration change was applied: look at the heap once the UAPI is quiet. */
  changed(): void {
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => this.check(), this.quietMs);
      this.timer.unref();
    }
  }

  private check(): void {
    this.timer = undefined;
    if (getHeapStatistics().used_heap_size - this.baseline < this.growth) return;
    this.collect ??= fullCollection() ?? null;
    if (!this.collect) return;
    this.collect();
    this.collections++;
    this.baseline = getHeapStatistics().used_heap_size;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * A function that runs a full garbage collection, or undefined where V8 refuses. Node gives
 * scripts V8's `gc` only with --expose-gc, which V8 reads when it makes a context: set for
 * the one new context that hands it over, and cleared again (workers started later must not
 * see a `gc` global).
 */
function fullCollection(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc !== 'function') return undefined;
    return () => {
      (gc as () => void)();
      (gc as () => void)();
      mallocTrim();
    };
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
