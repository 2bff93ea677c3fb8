import type { NotificationCommand } from '@conveyor/contracts';
import {
  connectTestRabbitmq,
  eventually,
  PROVIDER_SIM_ENTRY,
  startServiceStack,
  type ServiceProcess,
  type ServiceStack,
  type TestDatabase,
  type TestTokens,
} from '@conveyor/testing';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Client } from 'pg';

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

/** provider-sim's admin API (it runs with PROVIDER_SIM_ADMIN=true in the stack): the calls the tests make. */
export function simAdmin(url: string) {
  const admin = (path: string, init?: RequestInit) => fetch(`${url}/_admin/${path}`, init);
  return {
    url,
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
export type Sim = ReturnType<typeof simAdmin>;

/** Publishes commands the way order and points do (persistent, confirmed), once the service has declared its queue. */
export async function commandPublisher(exchange: string, queue: string) {
  const connection: ChannelModel = await connectTestRabbitmq();
  const declared = async () => {
    const probe = await connection.createChannel();
    probe.on('error', () => undefined);
    return probe.checkQueue(queue).then(
      () => probe.close().then(() => true),
      () => undefined,
    );
  };
  await eventually(declared, { timeoutMs: 30_000, what: `queue ${queue}` });
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  return {
    connection,
    publish: async (commands: (NotificationCommand | Record<string, unknown> | string)[]) => {
      for (const command of commands) {
        const routingKey = typeof command !== 'string' && command.type === 'SendSms' ? 'notification.sms' : 'notification.push';
        const body = typeof command === 'string' ? command : JSON.stringify(command);
        channel.publish(exchange, routingKey, Buffer.from(body), { persistent: true, contentType: 'application/json' });
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
export type CommandPublisher = Awaited<ReturnType<typeof commandPublisher>>;

/** Reads the delivery log (`notifications`) of the stack's database directly. */
export function deliveryLogReader(sql: Client) {
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
  };
}
export type DeliveryLogReader = ReturnType<typeof deliveryLogReader>;

/** Scrapes one sample from a service's /metrics: the line of `name` holding every one of `labels` (`key="value"`). */
export async function metricValue(url: string, name: string, ...labels: string[]): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
}

/** provider-sim, a notification process on resources of its own (database, exchange, queue, live channel, rate-limit keys), and ways to drive and read them. */
export interface NotificationStack {
  /** The notification process of the moment (the last one started or restarted). */
  readonly service: ServiceProcess;
  /** provider-sim as the SMS and push gateways, with its admin API. */
  readonly sim: Sim;
  /** Publishes commands to the stack's exchange, as order and points do. */
  readonly publisher: CommandPublisher;
  /** The delivery log, read directly. */
  readonly log: DeliveryLogReader;
  /** The stack's exchange and queue (NOTIFICATION_EXCHANGE, NOTIFICATION_QUEUE). */
  readonly exchange: string;
  readonly queue: string;
  /** The environment the service got. */
  readonly env: Readonly<Record<string, string>>;
  readonly tokens: TestTokens;
  readonly db: TestDatabase;
  /** Another notification process on the stack's resources, with `env` on top; stopped by `stop()`. */
  startReplica(env?: Record<string, string>): Promise<ServiceProcess>;
  /** Stops the service of the moment (already killed or not) and starts it again. */
  restart(env?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/**
 * The notification stack of one test file (libs/testing `startServiceStack`).
 * Test settings: short delay queues, a quick SMS breaker, a push breaker that
 * never opens (so push failures reach their attempts); `env` goes on top.
 */
export async function startNotificationStack(env: Record<string, string> = {}): Promise<NotificationStack> {
  const stack: ServiceStack<'sim'> = await startServiceStack({
    service: 'notification',
    processes: { sim: { entry: PROVIDER_SIM_ENTRY, env: { PROVIDER_SIM_ADMIN: 'true' } } },
    names: { NOTIFICATION_LIVE_CHANNEL: 'notifications_live' },
    env: ({ sim }) => ({
      RABBITMQ_RETRY_DELAYS_MS: '200,500,1000',
      RABBITMQ_PREFETCH: '20',
      SMS_URL: sim.url,
      PUSH_URL: sim.url,
      SMS_BREAKER_VOLUME_THRESHOLD: '5',
      SMS_BREAKER_RESET_TIMEOUT_MS: '1000',
      PUSH_BREAKER_VOLUME_THRESHOLD: '100000',
      PUSH_MAX_RETRIES: '0',
      ...env,
    }),
  });
  const exchange = stack.env['NOTIFICATION_EXCHANGE'] as string;
  const queue = stack.env['NOTIFICATION_QUEUE'] as string;
  let publisher: CommandPublisher;
  try {
    publisher = await commandPublisher(exchange, queue);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return {
    get service() {
      return stack.service;
    },
    sim: simAdmin(stack.processes.sim.url),
    publisher,
    log: deliveryLogReader(stack.sql),
    exchange,
    queue,
    env: stack.env,
    tokens: stack.tokens,
    db: stack.db,
    startReplica: (extra) => stack.startReplica(extra),
    restart: (extra) => stack.restart(extra),
    stop: async () => {
      try {
        await publisher.close();
      } finally {
        await stack.stop();
      }
    },
  };
}
