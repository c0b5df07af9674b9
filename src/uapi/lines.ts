// Splitting a UAPI byte stream into lines as they arrive, so that a reply with 130,000
// `allowed_ip=` lines is decoded while it streams in, never held whole.
//
// Bytes are read as latin1 (one char per byte): keys and values are ASCII, and anything else
// fails validation later exactly as it would in wg.

import { EPROTO, uapiError } from './errno.js';

/** Longest line accepted. The longest valid line is under 200 bytes; wg itself has no limit. */
export const MAX_LINE_BYTES = 1 << 20;

export class LineSplitter {
  private parts: Buffer[] = [];
  private partLen = 0;

  /** Complete lines (without `\n`) contained in this chunk plus what came before it. */
  *push(chunk: Buffer): Generator<string> {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      let line: string;
      if (this.partLen > 0) {
        this.parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.parts).toString('latin1');
        this.parts = [];
        this.partLen = 0;
      } else {
        line = chunk.toString('latin1', start, nl);
      }
      if (line.length > MAX_LINE_BYTES) throw uapiError(EPROTO);
      start = nl + 1;
      yield line;
    }
    if (start < chunk.length) {
      this.parts.push(chunk.subarray(start));
      this.partLen += chunk.length - start;
      if (this.partLen > MAX_LINE_BYTES) throw uapiError(EPROTO);
    }
  }

  /** Bytes of an unterminated line are waiting (at end of stream that is a protocol error). */
  get hasPartial(): boolean {
    return this.partLen > 0;
  }
}
