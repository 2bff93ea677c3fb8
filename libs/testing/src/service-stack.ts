import type { Kafka } from 'kafkajs';
import { Client } from 'pg';
import { sharedTestTokens, type TestTokens } from './auth-tokens';
import { createTestTopic, testKafka } from './kafka';
import { createTestDatabase, type TestDatabase } from './postgres';
import { startServiceProcess, type ServiceProcess } from './service-process';
import { startThrowawayRedis, type ThrowawayRedis, type ThrowawayRedisOptions } from './throwaway-redis';
import { uniqueName } from './unique-names';

/** The content type of every error answer (RFC 9457): what a test expects of a 4xx/5xx. */
export const PROBLEM_JSON = 'application/problem+json';

/** provider-sim's entry, the partner most stacks start beside their service (`processes: { sim: { entry: PROVIDER_SIM_ENTRY, … } }`). */
export const PROVIDER_SIM_ENTRY = 'services/provider-sim/src/main.ts';

/** Another process a stack starts before its service (provider-sim, a second service). */
export interface StackProcess {
  entry: string;
  env?: Record<string, string>;
}

/** Options of {@link startServiceStack}. */
export interface ServiceStackOptions<P extends string = never> {
  /** The service's name: its entry is `services/<service>/src/main.ts` and its database is named after it. */
  service: string;
  /** Another entry than `services/<service>/src/main.ts`. */
  entry?: string;
  /** A throw-away database (POSTGRES_DB), migrated by the service at start; default true. */
  database?: boolean;
  /**
   * The service's environment on top of the stack's; a function gets the
   * extra processes (e.g. `PAYMENTS_URL: processes.sim.url`).
   */
  env?: Record<string, string> | ((processes: Record<P, ServiceProcess>) => Record<string, string>);
  /** More env names to give a unique value each: env name → prefix (e.g. `{ SEARCH_REDIS_PREFIX: 'search' }`). */
  names?: Record<string, string>;
  /**
   * Kafka topics created (with leaders) before the service starts: env name →
   * partitions. For a test that subscribes before the service's outbox first
   * runs, or topics of another partition count than the service would make.
   */
  kafkaTopics?: Record<string, number>;
  /** Processes started before the service (each with logs quiet and tracing off unless their env says otherwise). */
  processes?: Record<P, StackProcess>;
  /** A redis-server of the stack's own (REDIS_URL), for tests that restart or lose Redis; default: the shared one. */
  redis?: boolean | ThrowawayRedisOptions;
  /** Start the service process; default true. With false, call `startReplica()` when the test is ready. */
  start?: boolean;
  /** How long the service gets to answer /health/live (migrations included). */
  readyTimeoutMs?: number;
}

/** What one test file runs against: a service process on resources of its own, and ways to look at them. */
export interface ServiceStack<P extends string = never> {
  /** The service process of the moment (the last one `start`ed or `restart`ed). */
  readonly service: ServiceProcess;
  /** Every service process the stack started and has not stopped (replicas). */
  readonly replicas: readonly ServiceProcess[];
  /** The extra processes, by the names given in `processes`. */
  readonly processes: Readonly<Record<P, ServiceProcess>>;
  /** The environment the service got: the stack's unique names, tokens, database, and the caller's env. */
  readonly env: Readonly<Record<string, string>>;
  /** The throw-away database (throws with `database: false`). */
  readonly db: TestDatabase;
  /** A direct connection to that database, to check what the service wrote (throws with `database: false`). */
  readonly sql: Client;
  /** The key pair whose tokens the service trusts (libs/testing `sharedTestTokens`, so `asUser` & co. work). */
  readonly tokens: TestTokens;
  /** A kafkajs client of the local broker. */
  readonly kafka: Kafka;
  /** The stack's own redis-server, when `redis` was asked for. */
  readonly redis: ThrowawayRedis | undefined;
  /** Starts another service process with the stack's env and `env` on top; it becomes `service` and is stopped by `stop()`. */
  startReplica(env?: Record<string, string>): Promise<ServiceProcess>;
  /** Stops `service` (SIGTERM) and starts it again with the stack's env and `env` on top. */
  restart(env?: Record<string, string>): Promise<ServiceProcess>;
  /** Stops everything the stack started, in reverse order, and drops the database; errors are collected and thrown at the end. */
  stop(): Promise<void>;
}

/**
 * The environment every stack gives its service, apart from the database and
 * the tokens: unique names for the shared destinations (libs/config
 * `destinationsEnv`), lock and rate-limit key prefixes, the consumer group,
 * and quiet, untraced processes. Pure: `name` makes each unique value.
 */
export function stackNamesEnv(service: string, extra: Record<string, string> = {}, name: (prefix: string) => string = uniqueName): Record<string, string> {
  const snake = service.replace(/[^a-z0-9]+/gi, '_').toLowerCase();
  return {
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    ORDER_EVENTS_TOPIC: name('order_events'),
    CATALOG_EVENTS_TOPIC: name('catalog_events'),
    POINTS_EVENTS_TOPIC: name('points_events'),
    NOTIFICATION_EXCHANGE: name('notification_commands'),
    NOTIFICATION_QUEUE: name('notification_send'),
    // Topics the service creates itself: one partition is enough for a test and quick to make.
    KAFKA_TOPIC_PARTITIONS: '1',
    KAFKA_CONSUMER_GROUP: name(`${snake}_group`),
    LOCK_KEY_PREFIX: name(`${snake}_lock`),
    // Every stack counts its rate limits apart, so one test file's requests never use up another's allowance.
    RATE_LIMIT_KEY_PREFIX: name(`${snake}_ratelimit`),
    ...Object.fromEntries(Object.entries(extra).map(([env, prefix]) => [env, name(prefix)])),
  };
}

/**
 * Starts one service as a real process on resources no other test uses: a
 * throw-away database (the service migrates it at start), unique topic /
 * exchange / queue / key names ({@link stackNamesEnv}), the shared test
 * tokens, optionally Kafka topics made up front, a redis-server of its own
 * and extra processes (provider-sim) started first. A service's
 * `test/support/<name>-stack.ts` wraps this with its own env and helpers.
 * If any step fails, what was started is stopped before the error is thrown.
 */
export async function startServiceStack<P extends string = never>(options: ServiceStackOptions<P>): Promise<ServiceStack<P>> {
  const entry = options.entry ?? `services/${options.service}/src/main.ts`;
  const undo: (() => Promise<unknown>)[] = [];
  const replicas: ServiceProcess[] = [];
  let current: ServiceProcess | undefined;
  let db: TestDatabase | undefined;
  let sql: Client | undefined;
  let redis: ThrowawayRedis | undefined;
  const processes = {} as Record<P, ServiceProcess>;
  const kafka = testKafka();

  const stop = async (): Promise<void> => {
    const failures: unknown[] = [];
    await Promise.all(replicas.splice(0).map((p) => p.stop().catch((error: unknown) => failures.push(error))));
    for (const step of undo.splice(0).reverse()) await step().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw new AggregateError(failures, `stopping the ${options.service} stack failed`);
  };

  try {
    const tokens = await sharedTestTokens();
    const env: Record<string, string> = { ...stackNamesEnv(options.service, options.names), ...tokens.env };
    if (options.database !== false) {
      const created = await createTestDatabase(options.service);
      db = created;
      undo.push(() => created.drop());
      env['POSTGRES_DB'] = created.database;
    }
    for (const [name, partitions] of Object.entries(options.kafkaTopics ?? {})) env[name] = await createTestTopic(kafka, name.toLowerCase(), partitions);
    if (options.redis) {
      const started = await startThrowawayRedis(options.redis === true ? {} : options.redis);
      redis = started;
      undo.push(() => started.stop());
      env['REDIS_URL'] = started.url;
    }
    for (const [name, process] of Object.entries(options.processes ?? {}) as [P, StackProcess][]) {
      const started = await startServiceProcess(process.entry, { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn', ...process.env });
      processes[name] = started;
      undo.push(() => started.stop());
    }
    Object.assign(env, typeof options.env === 'function' ? options.env(processes) : options.env);

    const startReplica = async (extra: Record<string, string> = {}): Promise<ServiceProcess> => {
      const started = await startServiceProcess(entry, { ...env, ...extra }, options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {});
      replicas.push(started);
      current = started;
      return started;
    };
    if (options.start !== false) await startReplica();
    if (db) {
      // Opened after the service has migrated (it answers /health/live only then); without a service, on the empty database.
      const client = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
      await client.connect();
      sql = client;
      undo.push(() => client.end());
    }

    const needs = <T>(value: T | undefined, what: string): T => {
      if (value === undefined) throw new Error(`the ${options.service} stack has no ${what}`);
      return value;
    };
    return {
      get service() {
        return needs(current, 'service process (start: false and no startReplica() yet)');
      },
      replicas,
      processes,
      env,
      get db() {
        return needs(db, 'database (database: false)');
      },
      get sql() {
        return needs(sql, 'database (database: false)');
      },
      tokens,
      kafka,
      redis,
      startReplica,
      restart: async (extra = {}) => {
        const stopping = needs(current, 'service process to restart');
        replicas.splice(replicas.indexOf(stopping), 1);
        await stopping.stop();
        return startReplica(extra);
      },
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
