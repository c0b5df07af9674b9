// The answer for a verb whose backend work has not landed in this build yet: a plain error,
// never a pretence of success.

import { WgError } from '../model/errors.js';

export function unavailable(verb: string): () => Promise<{ run: () => Promise<number> }> {
  return async () => ({
    run: async () => {
      throw new WgError('usage', `wgm: \`${verb}' is not available in this build of wgm yet`);
    },
  });
}
