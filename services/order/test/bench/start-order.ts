import compress from '@fastify/compress';
import type { Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { overrideProviders } from '@conveyor/testing';
import type { Telemetry } from '@conveyor/telemetry';
import { Logger } from 'nestjs-pino';
import { AppModule } from '../../src/app.module';
import { config } from '../../src/config';

/**
 * Starts the order service as src/main.ts does, with some providers replaced:
 * a benchmark's variant lives here, never behind a switch in src/.
 */
export async function startOrderWith(telemetry: Telemetry, overrides: Provider[]): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(overrideProviders(AppModule.register(config, telemetry), overrides), new FastifyAdapter(), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  await app.register(compress as unknown as Parameters<typeof app.register>[0], {
    encodings: ['br', 'gzip'],
    threshold: config.ORDER_COMPRESS_THRESHOLD_BYTES,
  });
  app.enableShutdownHooks();
  await app.listen(config.PORT, config.HOST);
}
