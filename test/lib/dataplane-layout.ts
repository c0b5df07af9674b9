// The data-plane layouts the engine tests run: this host's default (one worker for both
// directions on a host of few CPUs, one each otherwise: dataplane.ts hostThreads) and the
// other one, asked for with WGM_DATAPLANE, so that both are covered on any host.

import { hostThreads, type ThreadLayout } from '../../src/engine/dataplane/dataplane.js';

export type Layout = 'default' | 'other';

/** The layout `layout` stands for on this host. */
export function layoutOf(layout: Layout): ThreadLayout {
  const host = hostThreads();
  return layout === 'default' ? host : host === 'combined' ? 'split' : 'combined';
}

/** WGM_DATAPLANE for a layout, and what the engine's verbose log then says of its workers. */
export function layoutEnv(layout: Layout): { env: { WGM_DATAPLANE: ThreadLayout }; line: RegExp } {
  const want = layoutOf(layout);
  const line =
    want === 'combined'
      ? /one data-plane worker for both directions/
      : /data-plane workers: 1 transmit, 1 receive/;
  return { env: { WGM_DATAPLANE: want }, line };
}
