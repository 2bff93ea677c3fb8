import type { NotificationCommand } from '@conveyor/contracts';
import {
  connectTestRabbitmq,
  createTestDatabase,
  createTestTokens,
  eventually,
  startServiceProcess,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
  type TestTokens,
} from '@conveyor/testing';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { Client } from 'pg';

export const NOTIFICATION_ENTRY = 'services/notification/src/main.ts';

/** The parts of provider-sim's `/_admin/ledger` the tests read. */
export interface SimLedger {
  attempts: Record<string, number>;
  inFlight: Record<string, number>;
  maxInFlight: Record<string, number>;
  deliveries: Record<string, number>;
}

/** One message provider-sim accepted. */
export interface SimDelivery {
  messageId: string;
  channel: 'sms' | 'push';
  idempotencyKey?: string;
  acceptedAt: string;
  message: { to?: string; text?: string; token?: string; title?: string; body?: string; data?: Record<string, string> };
}

/** provider-sim as a real process with its admin API, and the admin calls the tests make. */
export async function startSim() {
  const process = await startServiceProcess('services/provider-sim/src/main.ts', { PROVIDER_SIM_ADMIN: 'true', OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
  const admin = (path: string, init?: RequestInit) => fetch(`${process.url}/_admin/${path}`, init);
  return {
    process,
    url: process.url,
    reset: async () => void (await admin('reset', { method: 'POST' })),
    setFaults: async (faults: unknown) => {
      const res = await admin('faults', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
      if (res.status !== 200) throw new Error(`PUT /_admin/faults answered ${res.status}: ${await res.text()}`);
    },
    clearFaults: async () => void (await admin('faults', { method: 'DELETE' })),
    ledger: async () => (await (await admin('ledger')).json()) as SimLedger,
    deliveries: async (channel?: 'sms' | 'push') => (await (await admin(`deliveries${channel ? `?channel=${channel}` : ''}`)).json()) as SimDelivery[],
  };
}
export type Sim = Awaited<ReturnType<typeof startSim>>;

/** The notification service's own resources for one test file: database, exchange, queue, live channel. */
export interface NotificationResources {
  db: TestDatabase;
  tokens: TestTokens;
  exchange: string;
  queue: string;
  liveChannel: string;
  env: Record<string, string>;
}

/** Test settings: short delay queues, a quick SMS breaker, a push breaker that never opens (so push failures reach their attempts). */
export async function notificationResources(sim: Sim, overrides: Record<string, string> = {}): Promise<NotificationResources> {
  const tokens = await createTestTokens();
  const db = await createTestDatabase('notification');
  const exchange = uniqueName('notification_commands');
  const queue = uniqueName('notification_send');
  const liveChannel = uniqueName('notifications_live');
  const env = {
    ...tokens.env,
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    POSTGRES_DB: db.database,
    NOTIFICATION_RABBITMQ_EXCHANGE: exchange,
    NOTIFICATION_RABBITMQ_QUEUE: queue,
    NOTIFICATION_LIVE_CHANNEL: liveChannel,
    RABBITMQ_RETRY_DELAYS_MS: '200,500,1000',
    RABBITMQ_PREFETCH: '20',
    SMS_URL: sim.url,
    PUSH_URL: sim.url,
    SMS_BREAKER_VOLUME_THRESHOLD: '5',
    SMS_BREAKER_RESET_TIMEOUT_MS: '1000',
    PUSH_BREAKER_VOLUME_THRESHOLD: '100000',
    PUSH_MAX_RETRIES: '0',
    ...overrides,
  };
  return { db, tokens, exchange, queue, liveChannel, env };
}

export const startNotification = (resources: NotificationResources, env: Record<string, string> = {}): Promise<ServiceProcess> =>
  startServiceProcess(NOTIFICATION_ENTRY, { ...resources.env, ...env });

/** Publishes commands the way order and points do (persistent, confirmed), once the service has declared its queue. */
export async function commandPublisher(resources: NotificationResources) {
  const connection: ChannelModel = await connectTestRabbitmq();
  const declared = async () => {
    const probe = await connection.createChannel();
    probe.on('error', () => undefined);
    return probe.checkQueue(resources.queue).then(
      () => probe.close().then(() => true),
      () => undefined,
    );
  };
  await eventually(declared, { timeoutMs: 30_000, what: `queue ${resources.queue}` });
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  return {
    connection,
    publish: async (commands: (NotificationCommand | Record<string, unknown> | string)[]) => {
      for (const command of commands) {
        const routingKey = typeof command !== 'string' && command.type === 'SendSms' ? 'notification.sms' : 'notification.push';
        const body = typeof command === 'string' ? command : JSON.stringify(command);
        channel.publish(resources.exchange, routingKey, Buffer.from(body), { persistent: true, contentType: 'application/json' });
      }
      await channel.waitForConfirms();
    },
    queueDepth: async (name: string) => {
      const probe = await connection.createChannel();
      try {
        return (await probe.checkQueue(name)).messageCount;
      } finally {
        await probe.close();
      }
    },
    close: () => connection.close(),
  };
}

/** Reads the notification database directly (the delivery log). */
export async function deliveryLogReader(db: TestDatabase) {
  const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await sql.connect();
  return {
    row: async (id: string) =>
      (
        await sql.query<{
          status: string;
          template: string | null;
          attempts: number;
          provider_message_id: string | null;
          failure_reason: string | null;
          title: string | null;
          body: string | null;
        }>('SELECT * FROM notifications WHERE id = $1', [id])
      ).rows[0],
    countByStatus: async (ids: string[]) => {
      const { rows } = await sql.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM notifications WHERE id = ANY($1) GROUP BY status',
        [ids],
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
    },
    close: () => sql.end(),
  };
}

/** Scrapes one sample from a service's /metrics: the line of `name` holding every one of `labels` (`key="value"`). */
export async function metricValue(url: string, name: string, ...labels: string[]): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
}

/** provider-sim, a notification process on resources of its own, a command publisher and a delivery-log reader: one test file's world. */
export interface DeliveryStack {
  sim: Sim;
  resources: NotificationResources;
  service: ServiceProcess;
  publisher: Awaited<ReturnType<typeof commandPublisher>>;
  log: Awaited<ReturnType<typeof deliveryLogReader>>;
  /** Everything closed and stopped in reverse order of start (the `service` of the moment), and the database dropped. */
  stop(): Promise<void>;
}

export async function startDeliveryStack(): Promise<DeliveryStack> {
  const undo: (() => Promise<unknown>)[] = [];
  // Steps read the stack's fields when they run: a test that restarts `service` has the new one stopped.
  const stack = {
    stop: async () => {
      for (const step of undo.reverse()) await step();
    },
  } as DeliveryStack;
  try {
    stack.sim = await startSim();
    undo.push(() => stack.sim.process.stop());
    stack.resources = await notificationResources(stack.sim);
    undo.push(() => stack.resources.db.drop());
    stack.service = await startNotification(stack.resources);
    undo.push(() => stack.service.stop());
    stack.publisher = await commandPublisher(stack.resources);
    undo.push(() => stack.publisher.close());
    stack.log = await deliveryLogReader(stack.resources.db);
    undo.push(() => stack.log.close());
    return stack;
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
