import {
  asAdmin,
  asUser,
  createTestDatabase,
  sharedTestTokens,
  startServiceProcess,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@conveyor/testing';
import { Client } from 'pg';

export const PROBLEM = 'application/problem+json';
export const ORDER_ENTRY = 'services/order/src/main.ts';

/** Requests signed with the test file's key pair (libs/testing), which every order process started here trusts (`authEnv()`). */
export { asAdmin, asUser };

/** What an order process needs to trust `sharedTestTokens()`, with rate limits out of the way of tests that are not about them. */
export async function authEnv(): Promise<Record<string, string>> {
  return {
    ...(await sharedTestTokens()).env,
    RATE_LIMIT_KEY_PREFIX: uniqueName('ratelimit'),
    ORDER_PLACEMENT_RATE_PER_USER: '1000000',
    ORDER_PLACEMENT_RATE_PER_IP: '1000000',
  };
}

/** provider-sim (admin on) and one order process on a database of its own: what one test file runs against. */
export interface OrderStack {
  sim: ServiceProcess;
  order: ServiceProcess;
  /** The environment the order process got: start another replica with it. */
  orderEnv: Record<string, string>;
  db: TestDatabase;
  /** A direct connection to the order database, to check what the service wrote. */
  sql: Client;
  stop(): Promise<void>;
}

/** Unique topic and exchange names for one order stack; the order process creates them at start. */
export function brokerNamesEnv(): { ORDER_EVENTS_TOPIC: string; CATALOG_EVENTS_TOPIC: string; NOTIFICATION_EXCHANGE: string; NOTIFICATION_QUEUE: string } {
  return {
    ORDER_EVENTS_TOPIC: uniqueName('order_events'),
    CATALOG_EVENTS_TOPIC: uniqueName('catalog_events'),
    NOTIFICATION_EXCHANGE: uniqueName('notification_commands'),
    NOTIFICATION_QUEUE: uniqueName('notification_send'),
  };
}

/** `env` overrides the order process's environment, `simEnv` provider-sim's (e.g. `OTEL_SDK_DISABLED: 'false'` to trace both). */
export async function startOrderStack(env: Record<string, string> = {}, simEnv: Record<string, string> = {}): Promise<OrderStack> {
  const db = await createTestDatabase('order');
  const sim = await startServiceProcess('services/provider-sim/src/main.ts', {
    PROVIDER_SIM_ADMIN: 'true',
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    ...simEnv,
  });
  const orderEnv = {
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    POSTGRES_DB: db.database,
    LOCK_KEY_PREFIX: uniqueName('order_lock'),
    PAYMENTS_URL: sim.url,
    // Short client bounds keep the reconciler's wait (worstCaseCallMs: 2 × (0.5 + 0.5 s) + 50 ms) short.
    PAYMENTS_CONNECT_TIMEOUT_MS: '500',
    PAYMENTS_READ_TIMEOUT_MS: '500',
    PAYMENTS_MAX_RETRIES: '1',
    PAYMENTS_RETRY_BASE_DELAY_MS: '20',
    PAYMENTS_RETRY_MAX_DELAY_MS: '50',
    ORDER_RECONCILE_INTERVAL_MS: '300',
    // No back-off and no giving up, unless a test is about them (reconciler-starvation): a failed order is due again at the next run.
    ORDER_RECONCILE_BACKOFF_INITIAL_MS: '1',
    ORDER_RECONCILE_BACKOFF_MAX_MS: '1',
    ORDER_RECONCILE_MAX_ATTEMPTS: '1000',
    ORDER_SETTLEMENT_INTERVAL_MS: '0',
    // The outbox relay runs (Kafka and RabbitMQ from the local servers' defaults) on topics and an exchange of this stack only.
    ...brokerNamesEnv(),
    KAFKA_TOPIC_PARTITIONS: '1',
    ...(await authEnv()),
    ...env,
  };
  const order = await startServiceProcess(ORDER_ENTRY, orderEnv);
  // Migrations run before the app listens, and /health/live answers only then.
  const sql = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await sql.connect();
  return {
    sim,
    order,
    orderEnv,
    db,
    sql,
    stop: async () => {
      await sql.end();
      await Promise.all([order.stop(), sim.stop()]);
      await db.drop();
    },
  };
}

export interface Ledger {
  charged: { count: number; amount: number };
  cancelled: { count: number; amount: number };
  byOrder: Record<string, { charges: number; cancels: number; chargedAmount: number; cancelledAmount: number }>;
  attempts: Record<string, number>;
}

export const ledger = async (sim: ServiceProcess): Promise<Ledger> => (await (await fetch(`${sim.url}/_admin/ledger`)).json()) as Ledger;

export async function setFaults(sim: ServiceProcess, faults: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${sim.url}/_admin/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
  if (!res.ok) throw new Error(`faults not set: ${res.status} ${await res.text()}`);
}

export async function createProduct(order: ServiceProcess, priceAmount: number, sellerId = 'seller-1'): Promise<{ id: string; priceAmount: number }> {
  const res = await fetch(`${order.url}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await asAdmin()) },
    body: JSON.stringify({ sku: uniqueName('sku'), sellerId, name: 'Test product', priceAmount }),
  });
  if (res.status !== 201) throw new Error(`product not created: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; priceAmount: number };
}

/**
 * `POST /orders` as the user `body.userId` names: it becomes the token's
 * subject and is left out of the body (the service takes the user from the
 * token only). Key null sends no Idempotency-Key; a string body is sent as is,
 * by the user `string-body-user`.
 */
export async function placeOrder(order: ServiceProcess, body: unknown, key: string | null): Promise<Response> {
  let userId = 'string-body-user';
  let sent = body;
  if (body !== null && typeof body === 'object' && 'userId' in body) {
    const { userId: subject, ...rest } = body as { userId: string };
    userId = subject;
    sent = rest;
  }
  return fetch(`${order.url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await asUser(userId)), ...(key === null ? {} : { 'idempotency-key': key }) },
    body: typeof sent === 'string' ? sent : JSON.stringify(sent),
  });
}

export interface OrderBody {
  id: string;
  userId: string;
  status: string;
  totalAmount: number;
  paymentKey: string | null;
  failureReason: string | null;
  items: { productId: string; quantity: number; unitPrice: number }[];
}

/** `GET /orders/:id` as an admin (any user's order). */
export const getOrder = async (order: ServiceProcess, id: string): Promise<OrderBody> =>
  (await (await fetch(`${order.url}/orders/${id}`, { headers: await asAdmin() })).json()) as OrderBody;
