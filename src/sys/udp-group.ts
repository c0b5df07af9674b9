// The engine's listening port: one UDP socket per receive thread, all bound to the same port
// with SO_REUSEPORT and steered by receiver index (sys/udp.ts), or a single socket when one
// thread receives. Port 0 means "any": the first socket takes a random port and the others
// join it.

import { UdpSocket } from './udp.js';

/** Socket buffer size asked for, as wireguard-go does (7 MiB). */
export const SOCKET_BUFFER_BYTES = 7 << 20;

export class UdpGroup {
  readonly sockets: UdpSocket[];

  private constructor(sockets: UdpSocket[]) {
    this.sockets = sockets;
  }

  static open(port: number, count: number, fwmark = 0, family?: 4 | 6): UdpGroup {
    const sockets: UdpSocket[] = [];
    try {
      for (let i = 0; i < count; i++) {
        sockets.push(
          UdpSocket.open({
            port: i === 0 ? port : sockets[0]!.port,
            fwmark,
            reusePort: count > 1,
            bufferBytes: SOCKET_BUFFER_BYTES,
            family: family ?? sockets[0]?.family,
          }),
        );
      }
      if (count > 1) sockets[0]!.steerByReceiver(count);
      return new UdpGroup(sockets);
    } catch (e) {
      for (const s of sockets) s.close();
      throw e;
    }
  }

  get port(): number {
    return this.sockets[0]!.port;
  }

  get family(): 4 | 6 {
    return this.sockets[0]!.family;
  }

  set fwmark(mark: number) {
    for (const s of this.sockets) s.fwmark = mark;
  }

  close(): void {
    for (const s of this.sockets.splice(0)) s.close();
  }
}
