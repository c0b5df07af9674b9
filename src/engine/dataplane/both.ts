// Both loops of the data plane in one worker thread: the transmit loop's batches (tx.ts
// makeTx: TUN queue → seal → sendmmsg) and the receive loop's (rx.ts makeRx: recvmmsg → open →
// TUN write) over one TUN queue and one UDP socket, for a host with few CPUs, where a second
// worker costs 10-13 MiB of resident memory (a V8 isolate, its thread arena) and its CPU would
// mostly be taken from the first one anyway (dataplane.ts `threads`, README.md in this folder).
//
// One poll(2) covers the TUN queue, the socket and the eventfd. Each round runs at most one
// batch of each direction that has something waiting, so a flow one way never starves the
// other: a loop whose last batch was full is due again without asking; one that found its
// queue empty is asked again by a poll with timeout 0 while the other is busy, and by a
// blocking poll once both are idle.

import { POLLERR, POLLIN, POLLNVAL, PollSet, Waker } from '../../sys/native.js';
import { makeRx } from './rx.js';
import type { WorkerState } from './state.js';
import { END, MORE } from './step.js';
import { Tally } from './tally.js';
import type { Post } from './tx.js';
import { makeTx } from './tx.js';

/** Entries of the poll set: the TUN queue first (makeTx reads its POLLERR there). */
const TUN = 0;
const UDP = 1;
const WAKE = 2;
/** What makes a descriptor worth a read: data, or an error the read will return. */
const READY = POLLIN | POLLERR;

export function runBoth(st: WorkerState, post: Post): void {
  const { init, shared } = st;
  const polled = new PollSet([
    { fd: init.tunFd, events: POLLIN },
    { fd: st.udpFd, events: POLLIN },
    { fd: init.wakeFd, events: POLLIN },
  ]);
  const wake = new Waker(init.wakeFd);
  // One tally for the thread: its row in shared.ts counts both directions.
  const tally = new Tally(shared, init.thread);
  const tx = makeTx(st, post, tally, polled, wake);
  const rx = makeRx(st, post, tally);
  // Start by reading both: whatever came before the thread ran.
  let txDue = true;
  let rxDue = true;
  try {
    for (;;) {
      if (shared.stopped) return;
      if (!txDue || !rxDue) {
        // Blocking only when both are idle; otherwise just a look at the idle one's queue.
        const busy = txDue || rxDue;
        if (!busy) st.sync();
        polled.setFd(UDP, st.udpFd);
        polled.wait(busy ? 0 : -1);
        if (polled.revents(WAKE) & POLLIN) wake.drain();
        if (polled.revents(TUN) & POLLNVAL) return;
        if (polled.revents(UDP) & POLLNVAL) st.sync(); // the socket was swapped under us
        if (polled.revents(TUN) & READY) txDue = true;
        if (polled.revents(UDP) & READY) rxDue = true;
        if (!txDue && !rxDue) continue; // a wake-up (configuration, or stop)
      }
      if (txDue) {
        const r = tx.step();
        if (r === END) return;
        txDue = r === MORE;
      }
      if (rxDue) {
        const r = rx.step();
        if (r === END) return;
        rxDue = r === MORE;
      }
    }
  } finally {
    polled.free();
    wake.free();
    tx.free();
    rx.free();
  }
}
