// Small-integer ids (peer slots, keypair slots) that the main thread hands out and takes
// back. An id given back is reused only after every worker has applied the messages posted
// before it was given back, so no worker can still be acting on the old holder (sending a
// peer's packets with a dead keypair found under a reused id, or counting into a new peer's row).

export class SlotPool {
  private fresh = 0;
  private readonly waiting: { id: number; marks: number[] }[] = [];

  constructor(
    private readonly max: number,
    private readonly threads: number,
    private readonly sent: (thread: number) => number,
    private readonly applied: (thread: number) => number,
  ) {}

  /** A free id, or undefined when all are in use or still being forgotten by some worker. */
  take(): number | undefined {
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i]!;
      if (w.marks.every((m, t) => t === 0 || this.applied(t) >= m)) {
        this.waiting.splice(i, 1);
        return w.id;
      }
    }
    return this.fresh < this.max ? this.fresh++ : undefined;
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
