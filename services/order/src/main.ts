import { telemetry } from './instrument';
import compress from '@fastify/compress';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { config } from './config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config, telemetry), new FastifyAdapter(), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  // JSON and CSV answers above a size threshold, streams included, by Accept-Encoding; br preferred.
  // (The cast: @nestjs/platform-fastify types its own copy of fastify; the plugin the root one. Both are 5.x.)
  await app.register(compress as unknown as Parameters<typeof app.register>[0], {
    encodings: ['br', 'gzip'],
    threshold: config.ORDER_COMPRESS_THRESHOLD_BYTES,
  });
  app.enableShutdownHooks();
  await app.listen(config.PORT, config.HOST);
}

void bootstrap();
