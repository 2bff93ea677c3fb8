import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { MetricsRegistry } from './metrics.registry';

export const METRICS_LISTEN = Symbol('METRICS_LISTEN');

export interface MetricsListen {
  host: string;
  port: number;
}

/**
 * `/metrics` on a port of its own (METRICS_PORT): the chart's Service names it
 * `metrics` for Prometheus, and nothing routes the public API to it. Anything
 * else on that port is 404.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Metrics');
  private server?: Server;

  constructor(
    private readonly registry: MetricsRegistry,
    @Inject(METRICS_LISTEN) private readonly listen: MetricsListen,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this port serves GET /metrics only\n');
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' }).end(body),
        (error: unknown) => {
          this.log.error({ err: error }, 'collecting the metrics failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting the metrics failed\n');
        },
      );
    });
    server.listen(this.listen.port, this.listen.host);
    await once(server, 'listening');
    this.server = server;
    this.log.log(`metrics on http://${this.listen.host}:${this.listen.port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
