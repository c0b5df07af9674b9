// The data plane's worker threads as the main thread holds them: starting them, posting them
// configuration (protocol.ts `Control`) with one wake-up per worker per task, knowing when
// they have applied it (shared.ts counts messages sent and applied per thread), and stopping
// them. What they report (`WorkerEvent`) goes to the owner's `onEvent`.

import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { randomBytes } from '../../crypto/random.js';
import { closeFd, Waker } from '../../sys/native.js';
import { afterWorkerStart } from '../heap.js';
import {
  type Control,
  receives,
  sends,
  type WorkerEvent,
  type WorkerInit,
  type WorkerRole,
} from './protocol.js';
import type { Shared } from './shared.js';

const STOP_TIMEOUT_MS = 3000;
/**
 * A lazy post (keypair changes) wakes an idle worker this late at most. A worker applies what
 * waits on its port before each batch it reads, so a keypair is in place before the first packet
 * that needs it; the wake only makes an idle worker apply it (and free the slots it holds, and
 * wipe the keys of keypairs gone). A handshake posts to two or three workers: waking each at
 * once cost more than the DH, and even every 20 ms, on a loaded 2-core host, each wake-up
 * handed the CPU to the woken worker for most of a millisecond.
 */
const LAZY_WAKE_MS = 200;

/**
 * Each worker's young generation, in MiB: V8 splits it into two semi-spaces and a third as
 * much for new large objects, so 3 is two 1 MiB semi-spaces (V8's starting size). Left to
 * itself, V8 grew them to 4 MiB each while a worker loaded its modules and kept them: ~6 MiB
 * more per worker. A worker allocates little once running (its packets live in native memory,
 * sys/native.ts), so the smaller nursery costs no scavenges on the data path.
 */
const WORKER_YOUNG_GENERATION_MB = 3;

interface WorkerSlot {
  thread: number;
  worker: Worker;
  port: MessagePort;
  waker: Waker;
  role: WorkerRole;
  lane: number;
  exited: Promise<void>;
}

export interface WorkerCallbacks {
  onEvent(e: WorkerEvent): void;
  onError(err: Error): void;
  /** Whether a worker exiting now is expected (stopping, or the interface is gone). */
  exitExpected(): boolean;
}

export class WorkerPool {
  /** By thread number; thread 0 is the main thread. */
  private readonly slots: (WorkerSlot | undefined)[] = [undefined];
  private readonly toWake = new Set<WorkerSlot>();
  /** Workers posted lazily and not woken since; woken by `lazyTimer`. */
  private readonly lazy = new Set<WorkerSlot>();
  private lazyTimer: NodeJS.Timeout | undefined;
  /** Inside `collect`: the messages of each worker, posted together at its end. */
  private collecting = 0;
  private readonly held = new Map<WorkerSlot, { list: Control[]; transfer: ArrayBuffer[] }>();
  private stopping = false;
  /** Workers spawned and not yet running (heap.ts afterWorkerStart). */
  private starting = 0;

  constructor(
    private readonly shared: Shared,
    private readonly cb: WorkerCallbacks,
  ) {}

  /** Starts one worker; `online` resolves once it runs (rejects if it fails or exits first). */
  spawn(init: Omit<WorkerInit, 'port' | 'wakeFd' | 'gateSeed'>): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const waker = new Waker();
    const gateSeed = new DataView(randomBytes(4).buffer).getUint32(0, true);
    const full: WorkerInit = { ...init, port: port2, wakeFd: waker.fd, gateSeed };
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: full,
      transferList: [port2],
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (e: WorkerEvent) => this.cb.onEvent(e));
    worker.on('error', (err) => this.cb.onError(err));
    worker.once('exit', () => {
      if (!this.stopping && !this.cb.exitExpected())
        this.cb.onError(new Error(`data-plane ${init.role} worker exited`));
    });
    this.slots[init.thread] = {
      thread: init.thread,
      worker,
      port: port1,
      waker,
      role: init.role,
      lane: init.lane,
      exited,
    };
    return new Promise((ok, fail) => {
      this.starting++;
      worker.once('online', () => {
        this.starting--;
        afterWorkerStart();
        ok();
      });
      worker.once('error', fail);
      worker.once('exit', () => fail(new Error('data-plane worker exited while starting')));
    });
  }

  /** The workers' thread numbers, with their role and lane. */
  *threads(): Generator<{ thread: number; role: WorkerRole; lane: number }> {
    for (let t = 1; t < this.slots.length; t++) {
      const w = this.slots[t];
      if (w) yield { thread: t, role: w.role, lane: w.lane };
    }
  }

  /** Posts `c` to a worker; `lazy`: wake it within LAZY_WAKE_MS rather than after this task. */
  post(thread: number, c: Control, lazy = false): void {
    const w = this.slots[thread];
    if (!w) return;
    // A worker starting resets V8's flags at some point of its start (heap.ts): the main
    // thread goes on applying a configuration meanwhile, and sets them again as it posts
    // (~4 µs each, only in that window) so that its young generation does not grow.
    if (this.starting > 0) afterWorkerStart();
    // A key moves to the worker rather than being copied, so no stray copy stays here.
    const transfer: ArrayBuffer[] = [];
    if (c.t === 'keypair') {
      if (c.sendKey) transfer.push(c.sendKey.buffer as ArrayBuffer);
      if (c.recvKey) transfer.push(c.recvKey.buffer as ArrayBuffer);
    }
    if (this.collecting > 0) {
      const h = this.held.get(w);
      if (h) {
        h.list.push(c);
        h.transfer.push(...transfer);
      } else this.held.set(w, { list: [c], transfer });
    } else w.port.postMessage(c, transfer);
    // Counted now, posted or held: `sent` marks what a freed slot waits for (slots.ts).
    this.shared.noteSent(thread);
    // One wake-up per worker per task, not per message: an eventfd write that wakes a thread
    // costs more than a message, and a handshake posts several (a keypair in, old ones out).
    // The message is queued already, and a worker reads its port before each batch, so the
    // wait only delays an idle worker, by the rest of this task.
    if (lazy) {
      if (this.toWake.has(w)) return;
      this.lazy.add(w);
      this.lazyTimer ??= setTimeout(this.wakeLazy, LAZY_WAKE_MS);
      return;
    }
    if (this.toWake.size === 0) queueMicrotask(this.wakePosted);
    this.toWake.add(w);
  }

  private readonly wakePosted = (): void => {
    for (const w of this.toWake) {
      this.lazy.delete(w);
      if (!this.stopping) w.waker.wake();
    }
    this.toWake.clear();
  };

  private readonly wakeLazy = (): void => {
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    // A busy worker applied its messages by itself (before its batches): no wake-up for it.
    if (!this.stopping)
      for (const w of this.lazy)
        if (this.shared.applied(w.thread) < this.shared.sent(w.thread)) w.waker.wake();
    this.lazy.clear();
  };

  /**
   * Runs `fn`, holding what it posts, then posts each worker's messages as one (an array:
   * state.ts applies them in order). An answering slice posts two or three keypair messages
   * per handshake; one postMessage per worker per slice instead.
   */
  collect(fn: () => void): void {
    this.collecting++;
    try {
      fn();
    } finally {
      if (--this.collecting === 0) this.release();
    }
  }

  /**
   * Posts what `collect` holds now (it keeps collecting): before a packet leaves this thread
   * whose answer a worker must open with a keypair among them.
   */
  release(): void {
    for (const [w, h] of this.held) w.port.postMessage(h.list.length === 1 ? h.list[0] : h.list, h.transfer);
    this.held.clear();
  }

  /**
   * Posts `c` to every worker, or to those that run one direction ('tx': the transmit and
   * combined workers, 'rx': the receive and combined ones; `lazy`: as for post).
   */
  postAll(c: Control, direction?: 'tx' | 'rx', lazy = false): void {
    for (const { thread, role } of this.threads())
      if (!direction || (direction === 'tx' ? sends(role) : receives(role))) this.post(thread, c, lazy);
  }

  /** Resolves once every worker applied every message posted so far (or after `ms`). */
  async settle(ms = 1000): Promise<void> {
    this.wakeLazy();
    const until = Date.now() + ms;
    const marks = this.slots.map((_, t) => this.shared.sent(t));
    const done = () => marks.every((m, t) => t === 0 || !this.slots[t] || this.shared.applied(t) >= m);
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
  }

  /** Wakes every worker out of poll to see the stop flag, waits for them, frees their ports. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeLazy();
    this.shared.stop();
    for (const w of this.slots) w?.waker.wake();
    const within = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS).unref()),
      ]);
    if ((await within(Promise.all(this.slots.map((w) => w?.exited)))) === 'timeout') {
      // A worker that ignored its wake: terminate() cannot interrupt a blocking call, so do not
      // wait for it forever either.
      await within(Promise.all(this.slots.map((w) => w?.worker.terminate())));
    }
    for (const w of this.slots) {
      if (!w) continue;
      w.port.close();
      w.waker.free();
      closeFd(w.waker.fd);
    }
  }
}
