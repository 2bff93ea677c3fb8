import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * "Hard down, refusing": the listening socket is closed for a while, so new
 * connections get ECONNREFUSED (what a crashed partner looks like), then it
 * listens again on the same address. Per route this cannot exist, since the
 * route is only known once a connection is accepted: see `hardDown` faults.
 */
@Injectable()
export class StartOutageService implements OnApplicationShutdown {
  private readonly logger = new Logger('Outage');
  private timer?: NodeJS.Timeout;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  start(durationMs: number): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    const address = server.address() as AddressInfo | null;
    if (!address || this.timer) return; // already down: the first outage's end stands
    server.close();
    server.closeIdleConnections();
    this.logger.warn({ durationMs }, 'outage started: connections refused');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      server.listen(address.port, address.address, () => this.logger.warn({ port: address.port }, 'outage over: listening again'));
    }, durationMs);
  }

  onApplicationShutdown(): void {
    clearTimeout(this.timer);
  }
}
