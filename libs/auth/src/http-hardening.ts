import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type Redis from 'ioredis';

/** The limits of libs/config's `httpServerEnv` that the HTTP server applies. */
export interface HttpLimitsConfig {
  HTTP_BODY_LIMIT_BYTES: number;
  HTTP_TRUST_PROXY_HOPS: number;
  RATE_LIMIT_KEY_PREFIX: string;
}

/**
 * A path parameter this long still reaches the route, whose own validation
 * answers it (400/404 problem+json, as documented). Fastify's default (100)
 * answers a longer one itself, 414 in text, before any route runs: an answer
 * no OpenAPI document lists. The URL as a whole stays bounded by Node's header
 * size limit (16 KiB).
 */
export const MAX_PATH_PARAM_LENGTH = 8 * 1024;

/** Fastify server options that are limits: the body size, path parameters, and the proxies whose X-Forwarded-For is believed. */
export function fastifyServerOptions(config: HttpLimitsConfig): { bodyLimit: number; maxParamLength: number; trustProxy: number | false } {
  return {
    bodyLimit: config.HTTP_BODY_LIMIT_BYTES,
    maxParamLength: MAX_PATH_PARAM_LENGTH,
    trustProxy: config.HTTP_TRUST_PROXY_HOPS > 0 ? config.HTTP_TRUST_PROXY_HOPS : false,
  };
}

/**
 * Registers, before `app.init()`: security headers on every answer (helmet,
 * with a content security policy for an API that serves no pages), and the
 * store the route rate limits count in: `redis` when given, so the limits hold
 * across replicas, else memory (one replica's share only).
 */
export async function hardenHttp(app: NestFastifyApplication, config: HttpLimitsConfig, { redis }: { redis?: Redis } = {}): Promise<void> {
  // @nestjs/platform-fastify types its own copy of fastify; the plugins are typed against the workspace's.
  type Plugin = Parameters<typeof app.register>[0];
  await app.register(helmet as unknown as Plugin, {
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] } },
  });
  await app.register(rateLimit as unknown as Plugin, {
    global: false,
    ...(redis ? { redis } : {}),
    nameSpace: `${config.RATE_LIMIT_KEY_PREFIX}:`,
  });
}
