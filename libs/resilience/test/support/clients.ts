import { Registry } from 'prom-client';
import type { LoggerService } from '@nestjs/common';
import { createResilientHttpClient, type ResilientHttpClient, type ResilientHttpClientOptions } from '../../src';

/** Options that keep tests fast; each test overrides what it is about. */
export function testClientOptions(baseUrl: string, overrides: Partial<ResilientHttpClientOptions> = {}): ResilientHttpClientOptions {
  return {
    downstream: 'provider-sim',
    baseUrl,
    connectTimeoutMs: 1_000,
    readTimeoutMs: 1_000,
    retry: { maxRetries: 2, baseDelayMs: 20, maxDelayMs: 50 },
    // A volume no test reaches, unless it is about the breaker.
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 1_000, rollingWindowMs: 10_000, resetTimeoutMs: 1_000 },
    bulkhead: { maxConcurrent: 10, retryAfterSeconds: 1 },
    ...overrides,
  };
}

/** Keeps what a client logged: fields, then message. */
export function recordingLogger(): LoggerService & { lines: { level: string; fields: object; message: string }[] } {
  const lines: { level: string; fields: object; message: string }[] = [];
  const record = (level: string) => (fields: object, message: string) => void lines.push({ level, fields, message });
  return { lines, log: record('log'), warn: record('warn'), error: record('error') };
}

/** Reads one labelled value of a metric from a registry. */
export async function metricValue(registry: Registry, name: string, downstream: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.find((v) => v.labels['downstream'] === downstream)?.value;
}

export class ClientPool {
  private readonly clients: ResilientHttpClient[] = [];

  create(options: ResilientHttpClientOptions): ResilientHttpClient {
    const client = createResilientHttpClient(options);
    this.clients.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
  }
}
