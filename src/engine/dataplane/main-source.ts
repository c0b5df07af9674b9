// Which local address a datagram the main thread sends leaves from (source.ts explains sticky
// sources): a peer's sticky source when it was learned from the destination, and, for a reply
// to the handshake message being handled, the address that message arrived at. The records
// compare remote addresses as the sockets encode them, so destinations are encoded here too.

import type { LocalAddr } from '../../sys/pktinfo.js';
import { encodeSockaddr, SOCKADDR_SIZE } from '../../sys/udp.js';
import { type PathAddr, samePath } from '../core/addr.js';
import type { SendSource } from './main-send.js';
import { SourceRecord, type SourceTable } from './source.js';

export class MainSources {
  /** The handshake message being handled: where it came from and where it arrived. */
  private replying: { from: PathAddr; local: LocalAddr } | undefined;
  private readonly record = new SourceRecord();
  /** A destination encoded as the sockets take it, to compare with sticky source records. */
  private readonly enc = new Uint8Array(SOCKADDR_SIZE);
  private readonly encView = new DataView(this.enc.buffer);

  constructor(
    private readonly sources: SourceTable,
    /** The family of the UDP sockets now (4, or 6 for dual-stack). */
    private readonly socketFamily: () => 4 | 6,
  ) {}

  /** `to` as the sockets' sockaddr, in `enc`; its length (0 when the sockets cannot reach it). */
  private encode(to: PathAddr): number {
    try {
      return encodeSockaddr(to, this.encView, 0, this.socketFamily());
    } catch {
      return 0;
    }
  }

  /**
   * A new endpoint for `peer`: a sticky source learned from another remote address is
   * forgotten (as kernel WireGuard clears it with a new endpoint); the one learned from this
   * address (the core following a roam) stays.
   */
  endpointChanged(peer: number, to: PathAddr | undefined): void {
    const len = to ? this.encode(to) : 0;
    this.sources.store(peer, undefined, (cur) => !cur.remoteIs(this.enc, 0, len));
  }

  /** Runs `fn` (which answers a handshake message from `from`) with replies leaving from `local`. */
  replyingTo(from: PathAddr, local: LocalAddr | undefined, fn: () => void): void {
    this.replying = local && { from, local };
    try {
      fn();
    } finally {
      this.replying = undefined;
    }
  }

  /** Where a datagram to `to` (for `peer`, if any) leaves from; undefined: wherever routing says. */
  pick(to: PathAddr, peer: number | undefined): SendSource | undefined {
    return this.replySource(to, peer) ?? (peer !== undefined ? this.sourceFor(peer, to) : undefined);
  }

  /** `peer`'s sticky source address for datagrams to `to`, if it has one. */
  sourceFor(peer: number, to: PathAddr): SendSource | undefined {
    const sources = this.sources;
    const len = this.encode(to);
    const g = sources.load(peer, this.record);
    if (g < 0 || !this.record.hasLocal() || !this.record.remoteIs(this.enc, 0, len)) return undefined;
    return {
      local: this.record.local(),
      rejected: () => sources.store(peer, undefined, (_, now) => now === g),
    };
  }

  /**
   * A reply to the handshake message being handled leaves from the address it arrived at.
   * When it goes to a peer, the core accepted that peer's message: its sticky source becomes
   * that address (kernel WireGuard sets the endpoint from an accepted handshake message).
   */
  private replySource(to: PathAddr, peer: number | undefined): SendSource | undefined {
    const r = this.replying;
    if (!r || !samePath(r.from, to)) return undefined;
    const sources = this.sources;
    if (peer !== undefined) {
      this.record.set(this.enc, 0, this.encode(to), r.local);
      sources.store(peer, this.record);
    }
    return {
      local: r.local,
      rejected: () => {
        if (peer !== undefined) sources.store(peer, undefined);
      },
    };
  }
}
