// What one batch of a worker's loop (tx.ts makeTx, rx.ts makeRx) leaves to the thread that
// runs it: whether to read again at once, to poll first, or to end.

/** The read filled the batch: there may be more waiting, read again (after the other loop's turn). */
export const MORE = 0;
/** The queue is empty (a short batch or nothing read): poll before reading again. */
export const IDLE = 1;
/** The loop is over (the link is gone, or a fatal error was reported). */
export const END = 2;

export type LoopStep = typeof MORE | typeof IDLE | typeof END;
