import { fastifyServerOptions, hardenHttp, type HttpLimitsConfig } from '@conveyor/auth';
import { publishOpenApiDocument } from '@conveyor/http';
import type { ConsumerStrategy } from '@conveyor/messaging';
import { backoffDelayMs } from '@conveyor/resilience';
import compress from '@fastify/compress';
import { Logger as NestLogger, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type Redis from 'ioredis';
import { Logger } from 'nestjs-pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { MESSAGE_CONSUMERS, RATE_LIMIT_REDIS } from './chassis.module';
import { ShutdownSignal } from './shutdown-signal';

/** The config fields {@link bootstrapService} reads (`httpServerEnv` of @conveyor/config). */
export interface HttpServerConfig extends HttpLimitsConfig {
  HOST: string;
  PORT: number;
  HTTP_COMPRESS_THRESHOLD_BYTES: number;
}

/**
 * Starts a service built on {@link ChassisModule}: Fastify with the body
 * limit and trusted proxies of the config, security headers, the store of the
 * rate limits (the service's Redis when it has one), the pino logger,
 * compression (br, gzip) of answers above HTTP_COMPRESS_THRESHOLD_BYTES,
 * shutdown hooks (SIGTERM drains: relays and consumers stop after the work in
 * flight, then connections close), the message consumers the app module
 * declares, the OpenAPI document built from the initialised app (libs/http
 * `publishOpenApiDocument`), then listens. Telemetry must already be started
 * (the service's instrument.ts, first import of its main.ts).
 */
export async function bootstrapService(appModule: DynamicModule, config: HttpServerConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(appModule, new FastifyAdapter(fastifyServerOptions(config)), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  await hardenHttp(app, config, { redis: app.get<Redis | null>(RATE_LIMIT_REDIS) ?? undefined });
  // (The cast: @nestjs/platform-fastify types its own copy of fastify; the plugin the root one. Both are 5.x.)
  await app.register(compress as unknown as Parameters<typeof app.register>[0], { encodings: ['br', 'gzip'], threshold: config.HTTP_COMPRESS_THRESHOLD_BYTES });
  app.enableShutdownHooks();
  const consumers = app.get<ConsumerStrategy[]>(MESSAGE_CONSUMERS).map((strategy) => app.connectMicroservice({ strategy }, { inheritAppConfig: true }));
  await app.init();
  // Every route is registered now; published before listen, so the first request has the document.
  publishOpenApiDocument(app);
  await app.listen(config.PORT, config.HOST);
  // After listen, and retried: a broker that is down at start must not keep the HTTP API from serving.
  const stopping = app.get(ShutdownSignal).signal;
  for (const consumer of consumers) void startConsumer(consumer, stopping);
  return app;
}

async function startConsumer(consumer: INestMicroservice, stopping: AbortSignal): Promise<void> {
  const log = new NestLogger('Consumer');
  for (let attempt = 1; !stopping.aborted; attempt += 1) {
    try {
      await consumer.listen();
      if (attempt > 1) log.log(`consumer started after ${attempt} attempts`);
      return;
    } catch (error) {
      const delay = backoffDelayMs(attempt, { baseDelayMs: 500, maxDelayMs: 10_000 });
      if (attempt === 1 || attempt % 10 === 0) log.warn({ err: error }, `consumer could not start (attempt ${attempt}); retrying in ${delay} ms`);
      await sleep(delay, undefined, { signal: stopping }).catch(() => undefined);
    }
  }
}
