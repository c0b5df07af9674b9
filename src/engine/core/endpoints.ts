// Which endpoint a peer's packets go to: the seam for endpoint selection. The core tells a
// peer's EndpointPolicy four things (an initiation round is about to go, a response came, an
// authenticated packet came from X, data went out and nothing came back) and sends to its
// `active` choice; whenever a call reports a change, the core emits 'endpointChanged'.
//
// RoundRobinRoaming is the behaviour until endpoint selection (core/select.ts) replaces it:
// - the candidates are the configured endpoints in order; the active one starts at the first;
// - each initiation round that starts while the previous one is unanswered (the retry after
//   REKEY_TIMEOUT, or a packet waiting for a session) moves to the next candidate, round robin;
// - every authenticated packet, handshake or transport, moves the active endpoint to its
//   source (roaming, as WireGuard does: wireguard-go's SetEndpointFromPacket);
// - data sent without a reply changes nothing by itself (the handshake it triggers rotates).

import { copyPath, type PathAddr, samePath } from './addr.js';

export interface EndpointPolicy {
  /** The configured candidates, in order of preference. */
  readonly candidates: readonly PathAddr[];
  /** Where transport and handshake messages go now; undefined: nowhere known. */
  readonly active: PathAddr | undefined;
  /** New configured candidates (possibly none). */
  setCandidates(list: readonly PathAddr[], now: number): void;
  /** An initiation round is about to go; `unanswered`: the previous round got no response. */
  forInitiation(unanswered: boolean, now: number): boolean;
  /** A handshake response from `from` authenticated (our initiation was answered). */
  noteResponse(from: PathAddr, now: number): boolean;
  /** Any other authenticated packet (an initiation, transport data, a keepalive) from `from`. */
  noteAuthenticated(from: PathAddr, now: number): boolean;
  /** Data went out and nothing authenticated came back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT. */
  noteSentWithoutReply(now: number): boolean;
}

/** The interim policy: round robin over unanswered rounds, roaming to every authenticated source. */
export class RoundRobinRoaming implements EndpointPolicy {
  private list: PathAddr[] = [];
  private current: PathAddr | undefined;
  private cursor = 0;

  get candidates(): readonly PathAddr[] {
    return this.list;
  }

  get active(): PathAddr | undefined {
    return this.current;
  }

  setCandidates(list: readonly PathAddr[]): void {
    this.list = list.map(copyPath);
    this.cursor = 0;
    this.current = this.list[0];
  }

  forInitiation(unanswered: boolean): boolean {
    if (!unanswered || this.list.length < 2) return false;
    this.cursor = (this.cursor + 1) % this.list.length;
    const next = this.list[this.cursor]!;
    if (samePath(next, this.current)) return false;
    this.current = next;
    return true;
  }

  noteResponse(from: PathAddr): boolean {
    return this.roam(from);
  }

  noteAuthenticated(from: PathAddr): boolean {
    return this.roam(from);
  }

  noteSentWithoutReply(): boolean {
    return false;
  }

  private roam(from: PathAddr): boolean {
    if (samePath(from, this.current)) return false;
    const i = this.list.findIndex((c) => samePath(c, from));
    this.current = i >= 0 ? this.list[i] : copyPath(from);
    if (i >= 0) this.cursor = i;
    return true;
  }
}
