import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, uniqueName } from '@conveyor/testing';
import { Kafka, logLevel } from 'kafkajs';

const run = promisify(execFile);
const infra = path.resolve(__dirname, '../../../../deploy/local/infra');

/**
 * A broker of our own, started by deploy/local/infra in a temporary run dir
 * on free ports: outage tests stop and start it without touching the shared
 * servers other tests use.
 */
export interface SeparateBroker {
  readonly env: Record<string, string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its run dir. */
  destroy(): Promise<void>;
}

async function separate(server: 'kafka' | 'rabbitmq', ports: Record<string, string>): Promise<SeparateBroker> {
  const dir = await mkdtemp(path.join(tmpdir(), `conveyor-${server}-`));
  const env = { ...ports, CONVEYOR_INFRA_DIR: dir };
  const infraCall = (verb: string) => run(infra, [verb, server], { env: { ...process.env, ...env }, timeout: 120_000 }).then(() => undefined);
  await infraCall('up');
  return {
    env,
    stop: () => infraCall('down'),
    start: () => infraCall('up'),
    destroy: async () => {
      await infraCall('down').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A single-broker KRaft Kafka on free ports. */
export async function startSeparateKafka(): Promise<SeparateBroker & { kafka: (clientId?: string) => Kafka }> {
  const port = await freePort();
  const broker = await separate('kafka', { KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(await freePort()) });
  return {
    ...broker,
    kafka: (clientId = uniqueName('outage')) =>
      new Kafka({
        clientId,
        brokers: [`127.0.0.1:${port}`],
        logLevel: logLevel.NOTHING,
        // Clients keep retrying through an outage rather than giving up.
        retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2_000 },
      }),
  };
}

/** A RabbitMQ node of its own (own node name, ports; shares epmd). */
export async function startSeparateRabbitmq(): Promise<SeparateBroker & { url: string }> {
  const port = await freePort();
  const broker = await separate('rabbitmq', {
    RABBITMQ_NODENAME: `${uniqueName('chaos')}@localhost`,
    RABBITMQ_PORT: String(port),
    RABBITMQ_MANAGEMENT_PORT: String(await freePort()),
    RABBITMQ_DIST_PORT: String(await freePort()),
  });
  return { ...broker, url: `amqp://conveyor:conveyor@127.0.0.1:${port}` };
}
