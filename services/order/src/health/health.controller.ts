import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { BrokerHealth } from '../messaging/broker-health';
import { REDIS } from '../redis/redis.module';

// A probe must answer before the kubelet gives up on it.
const PROBE_TIMEOUT_MS = 1_000;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS).unref()),
  ]);
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly brokers: BrokerHealth,
  ) {}

  /** The process is up and its event loop answers; nothing else is checked. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Ready: its database (orders), Redis (the reconciler's lock), Kafka and RabbitMQ (the outbox relay) answer. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.ping('postgres', () => this.dataSource.query('SELECT 1')),
      () => this.ping('redis', () => this.redis.ping()),
      () => this.ping('kafka', () => this.brokers.kafka()),
      () => this.ping('rabbitmq', () => this.brokers.rabbitmq()),
    ]);
  }

  private async ping(key: string, probe: () => Promise<unknown>) {
    const indicator = this.indicators.check(key);
    try {
      await withTimeout(probe());
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
