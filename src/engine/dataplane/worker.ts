// Entry point of a data-plane worker thread (started by dataplane.ts with a WorkerInit as
// workerData). It runs its loop, transmit, receive or both (both.ts), until the stop flag is
// set or the TUN link disappears, then frees its native memory and cipher contexts and ends.

import { parentPort, workerData } from 'node:worker_threads';
import { runBoth } from './both.js';
import type { WorkerEvent, WorkerInit } from './protocol.js';
import { runRx } from './rx.js';
import { WorkerState } from './state.js';
import { runTx } from './tx.js';

const init = workerData as WorkerInit;
const post = (e: WorkerEvent, transfer?: ArrayBuffer[]) => parentPort!.postMessage(e, transfer);
const st = new WorkerState(init);
try {
  st.sync();
  if (init.role === 'tx') runTx(st, post);
  else if (init.role === 'rx') runRx(st, post);
  else runBoth(st, post);
} catch (e) {
  post({ t: 'fatal', message: e instanceof Error ? e.message : String(e) });
} finally {
  st.dispose();
}
