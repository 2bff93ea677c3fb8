import {
  asAdmin,
  asUser,
  PROVIDER_SIM_ENTRY,
  sharedTestTokens,
  startServiceStack,
  uniqueName,
  type ServiceProcess,
  type ServiceStack,
} from '@conveyor/testing';

export const ORDER_ENTRY = 'services/order/src/main.ts';

/** Requests signed with the test file's key pair (libs/testing), which every order process started here trusts (`authEnv()`). */
export { asAdmin, asUser };

/** Rate limits out of the way of tests that are not about them. */
const UNLIMITED_PLACEMENTS = { ORDER_PLACEMENT_RATE_PER_USER: '1000000', ORDER_PLACEMENT_RATE_PER_IP: '1000000' };

/** What an order process started by hand (not by a stack) needs to trust `sharedTestTokens()`, with rate limits out of the way. */
export async function authEnv(): Promise<Record<string, string>> {
  return { ...(await sharedTestTokens()).env, RATE_LIMIT_KEY_PREFIX: uniqueName('ratelimit'), ...UNLIMITED_PLACEMENTS };
}

/**
 * provider-sim (admin on) and one order process on a database of its own
 * (libs/testing `startServiceStack`): what one test file runs against.
 */
export interface OrderStack extends ServiceStack<'sim'> {
  sim: ServiceProcess;
  /** The order process of the moment (`service`). */
  readonly order: ServiceProcess;
  /** The environment the order process got: start another replica with it. */
  orderEnv: Record<string, string>;
}

/** `env` overrides the order process's environment, `simEnv` provider-sim's (e.g. `OTEL_SDK_DISABLED: 'false'` to trace both). */
export async function startOrderStack(env: Record<string, string> = {}, simEnv: Record<string, string> = {}): Promise<OrderStack> {
  const stack = await startServiceStack({
    service: 'order',
    processes: { sim: { entry: PROVIDER_SIM_ENTRY, env: { PROVIDER_SIM_ADMIN: 'true', ...simEnv } } },
    env: ({ sim }) => ({
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
      ...UNLIMITED_PLACEMENTS,
      ...env,
    }),
  });
  // On top of the stack itself, so its live members (service, restart, stop…) stay what they are.
  return Object.assign(Object.create(stack) as ServiceStack<'sim'>, {
    sim: stack.processes.sim,
    orderEnv: { ...stack.env },
    get order(): ServiceProcess {
      return stack.service;
    },
  });
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
