import { Public } from '@conveyor/http';
import { Controller, Get, Header, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { MetricsRegistry } from './metrics.registry';

/** Scraped by Prometheus without a token; in the cluster it is not exposed by the ingress. */
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly registry: MetricsRegistry) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    reply.header('Content-Type', this.registry.contentType).send(await this.registry.metrics());
  }
}
