// The netlink codec's and transport's failure: a positive errno plus what went wrong, for the
// backend to turn into a WgError in wg's words (strerror). Never carries key material.

export class NetlinkError extends Error {
  readonly errno: number;
  constructor(errno: number, detail: string) {
    super(detail);
    this.name = 'NetlinkError';
    this.errno = errno;
  }
}
