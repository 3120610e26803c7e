/**
 * A TCP proxy between the gateways and Redis that a test controls: pass traffic,
 * swallow Redis's replies (commands arrive, answers never do), cut every
 * connection at once, and refuse new ones: a network partition on loopback.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export class TcpProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;
  dropReplies = false;
  refuse = false;
  repliesDropped = 0;

  constructor(private readonly upstreamPort: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.refuse) {
        client.destroy();
        return;
      }
      const up = connect(this.upstreamPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, up];
      this.pairs.add(pair);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        up.destroy();
      };
      client.on('data', (b) => up.write(b));
      up.on('data', (b) => {
        if (this.dropReplies) this.repliesDropped += b.length;
        else client.write(b);
      });
      client.on('close', end);
      up.on('close', end);
      client.on('error', end);
      up.on('error', end);
    });
    await new Promise<void>((res) => this.server?.listen(0, '127.0.0.1', () => res()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }

  /** Every connection dies at once, with a reset (as when a link or a NAT entry goes away). */
  cut(): number {
    const n = this.pairs.size;
    for (const [c, u] of [...this.pairs]) {
      c.resetAndDestroy();
      u.resetAndDestroy();
    }
    this.pairs.clear();
    return n;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((res) => this.server?.close(() => res()));
  }
}
