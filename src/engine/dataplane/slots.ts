// Small-integer ids (peer slots, keypair slots) that the main thread hands out and takes
// back. An id given back is reused only after every worker has applied the messages posted
// before it was given back, so no worker can still be acting on the old holder (sending a
// peer's packets with a dead keypair found under a reused id, or counting into a new peer's row).
//
// Ids given back wait in the order they came. A thread's count of messages sent only grows, so
// each waiting id's marks are at least those of the one before it: when the oldest is not free
// yet, no later one is, and `take` looks at the oldest only. (It used to scan them all: a
// responder answering ~2,000 handshakes a second gives back as many keypair ids, and a worker
// without traffic applies its messages only when woken (LAZY_WAKE_MS, workers.ts), so each
// handshake walked hundreds of waiting ids.)

export class SlotPool {
  private fresh = 0;
  /** Ids given back, oldest first from `head`, each with its marks. */
  private readonly waiting: ({ id: number; marks: number[] } | undefined)[] = [];
  private head = 0;

  constructor(
    private readonly max: number,
    private readonly threads: number,
    private readonly sent: (thread: number) => number,
    private readonly applied: (thread: number) => number,
  ) {}

  /** A free id, or undefined when all are in use or still being forgotten by some worker. */
  take(): number | undefined {
    const w = this.waiting[this.head];
    if (w && this.free(w.marks)) {
      this.waiting[this.head++] = undefined;
      // Drop the taken entries from time to time rather than shifting the array per take.
      if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      return w.id;
    }
    return this.fresh < this.max ? this.fresh++ : undefined;
  }

  private free(marks: number[]): boolean {
    for (let t = 1; t < marks.length; t++) if (this.applied(t) < marks[t]!) return false;
    return true;
  }

  /** Gives `id` back; `marks[t]` is how many messages thread t had been sent at that moment. */
  give(id: number, marks: number[]): void {
    this.waiting.push({ id, marks: marks.slice(0, this.threads) });
  }

  /** How many messages each thread has been sent so far (a mark for `give`). */
  marksNow(): number[] {
    const m: number[] = [];
    for (let t = 0; t < this.threads; t++) m.push(this.sent(t));
    return m;
  }
}
