/**
 * The scenario runner: a weighted mix of user actions (the ENDPOINTS table)
 * driven by autocannon through PHASES (a ramp, a steady rate, a window with
 * payment faults set through provider-sim's admin API, a recovery), then a
 * summary: orders by status, how many the reconciler settled, breaker
 * transitions, and p50/p95/p99 per endpoint from the services' own latency
 * histograms (the /metrics delta over the run).
 *
 * Against the running stack (`make demo`): ORDER_URL (http://127.0.0.1:3001),
 * POINTS_URL (:3002), NOTIFICATION_URL (:3003), SEARCH_URL (:3004),
 * PROVIDER_SIM_URL (http://127.0.0.1:3100; its admin API must be on,
 * PROVIDER_SIM_ADMIN=true as deploy/local/services starts it, or the fault
 * window is skipped), tokens signed with the local keys (deploy/local/keys.mjs).
 * SCENARIO_START=1 instead starts its own provider-sim and order (throw-away
 * database) on free ports, and drives only order's endpoints.
 * Knobs: SCENARIO_RATE (requests/s at the steady phases, 20),
 * SCENARIO_SECONDS (length of the steady phase, 20; the others scale with
 * it), SCENARIO_CONNECTIONS (10), SCENARIO_USERS (20), SCENARIO_SETTLE_SECONDS
 * (how long to wait for the reconciler at the end, 30).
 *
 * To extend the mix, add a row to ENDPOINTS: its weight, the service and
 * route template its latency is read under, and how to build a request from
 * the run's state. Each service gets its own autocannon run per phase, at its
 * share (by weight) of the phase's rate.
 */
import { createTestDatabase, createTestTokens, startServiceProcess, uniqueName, type ServiceProcess, type TestDatabase } from '@conveyor/testing';
import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

const RATE = Number(process.env['SCENARIO_RATE'] ?? 20);
const SECONDS = Number(process.env['SCENARIO_SECONDS'] ?? 20);
const CONNECTIONS = Number(process.env['SCENARIO_CONNECTIONS'] ?? 10);
const USERS = Number(process.env['SCENARIO_USERS'] ?? 20);
const SETTLE_SECONDS = Number(process.env['SCENARIO_SETTLE_SECONDS'] ?? 30);

/** What the endpoints share during a run. */
interface RunState {
  /** The run's users (fresh ids each run, so their points and orders are this run's only). */
  userIds: string[];
  userHeaders: Record<string, string>[];
  adminHeaders: Record<string, string>;
  /** The lessons service's identity (client credentials, scope points:activities): lesson completions come from it, not from the user. */
  lessonsHeaders: Record<string, string>;
  productIds: string[];
  /** Orders placed, by index of the user who placed them (a user cancels only their own). */
  ordersByUser: Map<number, string[]>;
  /** Every order id answered, with the status of the first answer. */
  placed: Map<string, string>;
}

type ServiceName = 'order' | 'points' | 'notification' | 'search';

interface Request {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One user action of the mix. */
interface Endpoint {
  name: string;
  weight: number;
  /** Which service answers it, and whose /metrics histogram holds its latency, under which method and route template. */
  service: ServiceName;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  route: string;
  /** The request to send for user `user`, or undefined when the state does not allow it yet (another action is picked). */
  request(state: RunState, user: number): Request | undefined;
  onResponse?(state: RunState, user: number, status: number, body: string): void;
}

const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
const json = { 'content-type': 'application/json' };

export const ENDPOINTS: Endpoint[] = [
  {
    name: 'browse products',
    weight: 50,
    service: 'order',
    method: 'GET',
    route: '/products',
    request: () => ({ method: 'GET', path: '/products?limit=20' }),
  },
  {
    name: 'view a product',
    weight: 15,
    service: 'order',
    method: 'GET',
    route: '/products/:id',
    request: (state) => ({ method: 'GET', path: `/products/${pick(state.productIds)}` }),
  },
  {
    name: 'place an order',
    weight: 20,
    service: 'order',
    method: 'POST',
    route: '/orders',
    request: (state, user) => ({
      method: 'POST',
      path: '/orders',
      headers: { ...json, ...state.userHeaders[user], 'idempotency-key': randomUUID() },
      body: JSON.stringify({ items: [{ productId: pick(state.productIds), quantity: 1 + Math.floor(Math.random() * 3) }] }),
    }),
    onResponse: (state, user, status, body) => {
      if (status !== 201 && status !== 202) return;
      const order = JSON.parse(body) as { id: string; status: string };
      state.placed.set(order.id, order.status);
      state.ordersByUser.set(user, [...(state.ordersByUser.get(user) ?? []), order.id]);
    },
  },
  {
    name: 'my orders',
    weight: 10,
    service: 'order',
    method: 'GET',
    route: '/orders',
    request: (state, user) => ({ method: 'GET', path: '/orders?limit=10', headers: state.userHeaders[user] }),
  },
  {
    name: 'cancel an order',
    weight: 5,
    service: 'order',
    method: 'POST',
    route: '/orders/:id/cancel',
    request: (state, user) => {
      const mine = state.ordersByUser.get(user) ?? [];
      const id = mine.splice(Math.floor(Math.random() * mine.length), 1)[0];
      return id ? { method: 'POST', path: `/orders/${id}/cancel`, headers: state.userHeaders[user] } : undefined;
    },
  },
  {
    name: 'search',
    weight: 15,
    service: 'search',
    method: 'GET',
    route: '/search',
    request: () => ({ method: 'GET', path: `/search?q=${encodeURIComponent(pick(SEARCH_WORDS) ?? 'product')}` }),
  },
  {
    name: 'like a product',
    weight: 4,
    service: 'search',
    method: 'PUT',
    route: '/products/:id/likes',
    request: (state, user) => ({ method: 'PUT', path: `/products/${pick(state.productIds)}/likes`, headers: state.userHeaders[user] }),
  },
  {
    name: 'count a view',
    weight: 10,
    service: 'search',
    method: 'POST',
    route: '/products/:id/views',
    request: (state) => ({ method: 'POST', path: `/products/${pick(state.productIds)}/views` }),
  },
  {
    name: 'complete a lesson',
    weight: 4,
    service: 'points',
    method: 'POST',
    route: '/activities/:activityId/completions',
    // Reported by the lessons service for the user (a user's own token is refused: docs/points-service.md).
    request: (state, user) => ({
      method: 'POST',
      path: `/activities/lesson-${1 + Math.floor(Math.random() * 20)}/completions`,
      headers: { ...json, ...state.lessonsHeaders },
      body: JSON.stringify({ userId: state.userIds[user] }),
    }),
  },
  {
    name: 'my points',
    weight: 4,
    service: 'points',
    method: 'GET',
    route: '/users/:id/points',
    request: (state, user) => ({ method: 'GET', path: `/users/${state.userIds[user]}/points`, headers: state.userHeaders[user] }),
  },
  {
    name: 'request a code (SMS)',
    weight: 2,
    service: 'notification',
    method: 'POST',
    route: '/verifications',
    request: (state, user) => ({
      method: 'POST',
      path: '/verifications',
      headers: { ...json, ...state.userHeaders[user] },
      body: JSON.stringify({ phone: `+8210${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}` }),
    }),
  },
];

/** Words of the seeded product names, and one that matches nothing. */
const SEARCH_WORDS = ['scenario', 'keyboard', '키보드', 'mouse', 'nothing-matches-this'];

/** The run: each phase one autocannon run at `rate`; `faults` are set on provider-sim for its length. */
interface Phase {
  name: string;
  seconds: number;
  rate: number;
  faults?: Record<string, unknown>;
}

export const PHASES: Phase[] = [
  { name: 'ramp 1/3', seconds: Math.max(2, Math.round(SECONDS / 4)), rate: Math.max(1, Math.round(RATE / 3)) },
  { name: 'ramp 2/3', seconds: Math.max(2, Math.round(SECONDS / 4)), rate: Math.max(1, Math.round((RATE * 2) / 3)) },
  { name: 'steady', seconds: SECONDS, rate: RATE },
  {
    name: 'payments degraded',
    seconds: Math.max(5, Math.round(SECONDS / 2)),
    rate: RATE,
    // Slow and failing charges: retries, timeouts (UNKNOWN orders for the reconciler), the breaker opening.
    faults: { 'POST /v1/payments': { latencyMs: 300, jitterMs: 1_500, errorRate: 0.9, errorStatus: 503 } },
  },
  { name: 'recovery', seconds: SECONDS, rate: RATE },
];

// ── the run ────────────────────────────────────────────────────────────────

type Histograms = Map<string, Map<number, number>>; // "method route" → le → cumulative count

async function scrapeHistograms(url: string, metric: string): Promise<Histograms> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Histograms = new Map();
  for (const [, labels, value] of text.matchAll(new RegExp(`^${metric}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1] ?? '';
    const key = `${label('method')} ${label('route')}`;
    const le = label('le') === '+Inf' ? Infinity : Number(label('le'));
    const byLe = out.get(key) ?? new Map<number, number>();
    byLe.set(le, (byLe.get(le) ?? 0) + Number(value)); // summed over status codes
    out.set(key, byLe);
  }
  return out;
}

async function scrapeCounter(url: string, metric: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const [, labels, value] of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, 'gm'))) out.set(labels, Number(value));
  return out;
}

/** The q-quantile (seconds) of the observations between two scrapes of a cumulative histogram, interpolated within its bucket. */
function quantile(before: Map<number, number> | undefined, after: Map<number, number>, q: number): { seconds: number; total: number } {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => (after.get(le) ?? 0) - (before?.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return { seconds: NaN, total };
  const rank = q * total;
  const i = counts.findIndex((c) => c >= rank);
  const upper = les[i];
  const lower = i > 0 ? les[i - 1] : 0;
  if (upper === Infinity) return { seconds: lower, total }; // above the last bound: the bound is what is known
  const below = i > 0 ? counts[i - 1] : 0;
  const inBucket = counts[i] - below;
  return { seconds: lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1), total };
}

async function localToken(user: string, role: 'user' | 'admin'): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['deploy/local/keys.mjs', 'token', '--user', user, '--role', role, '--ttl', '7200']);
  return { authorization: `Bearer ${stdout.trim()}` };
}

/** A service identity's token signed with the local keys (what `make token CLIENT=… SCOPE=…` prints). */
async function localServiceToken(client: string, scope: string): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['deploy/local/keys.mjs', 'token', '--client', client, '--scope', scope, '--ttl', '7200']);
  return { authorization: `Bearer ${stdout.trim()}` };
}

async function setFaults(simUrl: string, faults: Record<string, unknown>): Promise<boolean> {
  const res = await fetch(`${simUrl}/_admin/faults`, { method: 'PUT', headers: json, body: JSON.stringify(faults) }).catch(() => undefined);
  return res?.ok ?? false;
}

interface Stack {
  orderUrl: string;
  simUrl: string;
  /** Where each service answers; a service the stack does not run is left out, and so are its endpoints. */
  urls: Partial<Record<ServiceName, string>>;
  headers: (user: string, role: 'user' | 'admin') => Promise<Record<string, string>>;
  serviceHeaders: (client: string, scope: string) => Promise<Record<string, string>>;
  stop(): Promise<void>;
}

async function ownStack(): Promise<Stack> {
  const tokens = await createTestTokens();
  const db: TestDatabase = await createTestDatabase('scenario');
  const running: ServiceProcess[] = [];
  const sim = await startServiceProcess('services/provider-sim/src/main.ts', { PROVIDER_SIM_ADMIN: 'true', LOG_LEVEL: 'warn' });
  running.push(sim);
  const order = await startServiceProcess('services/order/src/main.ts', {
    LOG_LEVEL: 'warn',
    POSTGRES_DB: db.database,
    LOCK_KEY_PREFIX: uniqueName('scenario_lock'),
    PAYMENTS_URL: sim.url,
    PAYMENTS_READ_TIMEOUT_MS: '1000',
    ORDER_RECONCILE_INTERVAL_MS: '1000',
    ORDER_EVENTS_TOPIC: uniqueName('scenario_order_events'),
    CATALOG_EVENTS_TOPIC: uniqueName('scenario_catalog_events'),
    NOTIFICATION_EXCHANGE: uniqueName('scenario_notifications'),
    NOTIFICATION_QUEUE: uniqueName('scenario_notification_send'),
    RATE_LIMIT_KEY_PREFIX: uniqueName('scenario_ratelimit'),
    ...tokens.env,
  });
  running.push(order);
  return {
    orderUrl: order.url,
    simUrl: sim.url,
    urls: { order: order.url },
    headers: (user, role) => (role === 'admin' ? tokens.asAdmin(user) : tokens.asUser(user)),
    serviceHeaders: (client, scope) => tokens.asService(client, scope),
    stop: async () => {
      for (const p of running.reverse()) await p.stop();
      await db.drop();
    },
  };
}

async function runningStack(): Promise<Stack> {
  const url = (name: ServiceName, port: number) =>
    process.env[`${name.toUpperCase()}_URL`] ?? `http://127.0.0.1:${process.env[`${name.toUpperCase()}_PORT`] ?? port}`;
  return {
    urls: { order: url('order', 3001), points: url('points', 3002), notification: url('notification', 3003), search: url('search', 3004) },
    orderUrl: url('order', 3001),
    simUrl: process.env['PROVIDER_SIM_URL'] ?? `http://127.0.0.1:${process.env['PROVIDER_SIM_PORT'] ?? 3100}`,
    headers: localToken,
    serviceHeaders: localServiceToken,
    stop: async () => undefined,
  };
}

async function seedProducts(stack: Stack, admin: Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const res = await fetch(`${stack.orderUrl}/products`, {
      method: 'POST',
      headers: { ...json, ...admin },
      body: JSON.stringify({ sku: uniqueName('scenario_sku'), sellerId: 'scenario-seller', name: `Scenario product ${i + 1}`, priceAmount: 5_000 + i * 2_500 }),
    });
    if (res.status !== 201) throw new Error(`product not created: ${res.status} ${await res.text()}`);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

async function runPhase(stack: Stack, state: RunState, phase: Phase, responses: Map<string, Map<number, number>>): Promise<string> {
  const endpoints = ENDPOINTS.filter((e) => stack.urls[e.service] !== undefined);
  const totalWeight = endpoints.reduce((sum, e) => sum + e.weight, 0);
  const services = [...new Set(endpoints.map((e) => e.service))];
  const results = await Promise.all(
    services.map((service) => {
      const mine = endpoints.filter((e) => e.service === service);
      const weight = mine.reduce((sum, e) => sum + e.weight, 0);
      return runService(stack.urls[service] as string, mine, state, Math.max(1, Math.round((phase.rate * weight) / totalWeight)), phase.seconds, responses);
    }),
  );
  const total = (pick: (r: autocannon.Result) => number) => results.reduce((sum, r) => sum + pick(r), 0);
  const p99 = Math.max(...results.map((r) => r.latency.p99));
  return `${phase.name.padEnd(18)} ${String(phase.seconds).padStart(3)} s at ${String(phase.rate).padStart(3)}/s: ${total((r) => r.requests.total)} requests, ${total((r) => r.non2xx)} non-2xx, ${total((r) => r.errors)} errors, ${total((r) => r.timeouts)} timeouts, worst p99 ${p99} ms`;
}

/** One autocannon run against one service, drawing from its endpoints by weight. */
async function runService(
  url: string,
  endpoints: Endpoint[],
  state: RunState,
  rate: number,
  seconds: number,
  responses: Map<string, Map<number, number>>,
): Promise<autocannon.Result> {
  const totalWeight = endpoints.reduce((sum, e) => sum + e.weight, 0);
  const choose = (): Endpoint => {
    let roll = Math.random() * totalWeight;
    for (const endpoint of endpoints) if ((roll -= endpoint.weight) < 0) return endpoint;
    return endpoints[0];
  };
  const fallback = endpoints[0];
  const sent = (context: Record<string, unknown>): { endpoint: Endpoint; user: number }[] => (context['sent'] ??= []) as { endpoint: Endpoint; user: number }[];
  return autocannon({
    url,
    connections: Math.max(1, Math.min(CONNECTIONS, rate)),
    overallRate: rate,
    duration: seconds,
    requests: [
      {
        setupRequest: (request: autocannon.Request, context: Record<string, unknown>) => {
          const user = Math.floor(Math.random() * USERS);
          for (let tries = 0; tries < 10; tries += 1) {
            const endpoint = choose();
            const built = endpoint.request(state, user);
            if (!built) continue;
            sent(context).push({ endpoint, user });
            return { ...request, method: built.method, path: built.path, headers: built.headers ?? {}, body: built.body };
          }
          sent(context).push({ endpoint: fallback, user });
          return { ...request, ...fallback.request(state, user) };
        },
        onResponse: (status: number, body: string, context: Record<string, unknown>) => {
          // autocannon may build a connection's next request before it reports this answer: first sent, first answered.
          const { endpoint, user } = sent(context).shift() ?? { endpoint: fallback, user: 0 };
          const byStatus = responses.get(endpoint.name) ?? new Map<number, number>();
          byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
          responses.set(endpoint.name, byStatus);
          endpoint.onResponse?.(state, user, status, body);
        },
      },
    ],
  });
}

async function finalStatuses(stack: Stack, state: RunState): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  const deadline = Date.now() + SETTLE_SECONDS * 1000;
  for (;;) {
    const ids = [...state.placed.keys()].filter((id) => !['PAID', 'FAILED', 'CANCELLED'].includes(statuses.get(id) ?? ''));
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(
        ids.slice(i, i + 10).map(async (id) => {
          const res = await fetch(`${stack.orderUrl}/orders/${id}`, { headers: state.adminHeaders });
          if (res.ok) statuses.set(id, ((await res.json()) as { status: string }).status);
        }),
      );
    }
    const unsettled = [...statuses.values()].filter((s) => s === 'UNKNOWN' || s === 'PENDING' || s === 'CANCELLING').length;
    if (unsettled === 0 || Date.now() > deadline) return statuses;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Points the run's users earned: the positive entries of their ledgers (first page each, 200 entries). */
async function pointsAwarded(url: string, state: RunState): Promise<number> {
  let total = 0;
  for (const [i, id] of state.userIds.entries()) {
    const res = await fetch(`${url}/users/${id}/points/ledger?limit=200`, { headers: state.userHeaders[i] });
    if (!res.ok) continue; // no account yet: nothing earned
    const page = (await res.json()) as { entries: { amount: number }[] };
    total += page.entries.reduce((sum, entry) => sum + Math.max(0, entry.amount), 0);
  }
  return total;
}

async function main(): Promise<void> {
  const stack = process.env['SCENARIO_START'] === '1' ? await ownStack() : await runningStack();
  try {
    const adminHeaders = await stack.headers('scenario-admin', 'admin');
    const run = randomUUID().slice(0, 8);
    const userIds = Array.from({ length: USERS }, (_, i) => `scenario-${run}-user-${i + 1}`);
    const state: RunState = {
      userIds,
      userHeaders: await Promise.all(userIds.map((id) => stack.headers(id, 'user'))),
      adminHeaders,
      lessonsHeaders: await stack.serviceHeaders('lessons', 'points:activities'),
      productIds: await seedProducts(stack, adminHeaders),
      ordersByUser: new Map(),
      placed: new Map(),
    };
    const services = Object.entries(stack.urls) as [ServiceName, string][];
    const scrapeAll = async () =>
      new Map(await Promise.all(services.map(async ([name, url]) => [name, await scrapeHistograms(url, 'http_server_request_duration_seconds')] as const)));
    const sentBy = async () => (stack.urls.notification ? scrapeCounter(stack.urls.notification, 'notifications_total') : new Map<string, number>());
    const latencyBefore = await scrapeAll();
    const transitionsBefore = await scrapeCounter(stack.orderUrl, 'circuit_breaker_transitions_total');
    const notificationsBefore = await sentBy();
    const responses = new Map<string, Map<number, number>>();
    const phaseLines: string[] = [];
    for (const phase of PHASES) {
      let faulted = false;
      if (phase.faults) {
        faulted = await setFaults(stack.simUrl, phase.faults);
        if (!faulted) phaseLines.push(`(${phase.name}: provider-sim's admin API is off — PROVIDER_SIM_ADMIN=true — so no faults this phase)`);
      }
      try {
        phaseLines.push(await runPhase(stack, state, phase, responses));
      } finally {
        if (faulted) await setFaults(stack.simUrl, {});
      }
      console.log(phaseLines[phaseLines.length - 1]);
    }

    const latencyAfter = await scrapeAll();
    const transitionsAfter = await scrapeCounter(stack.orderUrl, 'circuit_breaker_transitions_total');
    const statuses = await finalStatuses(stack, state);

    const byStatus = new Map<string, number>();
    for (const status of statuses.values()) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const reconciled = [...state.placed].filter(([id, first]) => first === 'UNKNOWN' && statuses.get(id) !== 'UNKNOWN').length;
    const answeredUnknown = [...state.placed.values()].filter((s) => s === 'UNKNOWN').length;

    console.log('\nsummary');
    console.log(`orders placed: ${state.placed.size}; now by status: ${[...byStatus].map(([s, n]) => `${s}=${n}`).join(' ') || 'none'}`);
    console.log(`reconciled: ${reconciled} of ${answeredUnknown} answered UNKNOWN (202) were settled by the reconciler`);
    const transitions = [...transitionsAfter]
      .map(([labels, n]) => [labels, n - (transitionsBefore.get(labels) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([labels, n]) => {
        const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1] ?? '?';
        return `${label('downstream')} → ${label('to')}: ${n}`;
      });
    console.log(`breaker transitions: ${transitions.join('; ') || 'none'}`);
    if (stack.urls.points)
      console.log(`points awarded: ${await pointsAwarded(stack.urls.points, state)} to the run's ${USERS} users (orders paid and lessons completed)`);
    if (stack.urls.notification) {
      // Deliveries go on after the run (the outbox and the queue drain): the count is what was sent by now.
      const after = await sentBy();
      const sent = [...after]
        .map(([labels, n]) => [labels, n - (notificationsBefore.get(labels) ?? 0)] as const)
        .filter(([, n]) => n > 0)
        .map(([labels, n]) => `${/channel="([^"]*)"/.exec(labels)?.[1] ?? '?'} ${/outcome="([^"]*)"/.exec(labels)?.[1] ?? '?'}=${n}`);
      console.log(`notifications: ${sent.join(' ') || 'none'}`);
    }
    console.log(
      `${'endpoint'.padEnd(22)} ${'requests'.padStart(8)}  ${'answers'.padEnd(28)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)}  (ms, served)`,
    );
    for (const endpoint of ENDPOINTS) {
      if (!stack.urls[endpoint.service]) continue;
      const key = `${endpoint.method} ${endpoint.route}`;
      const after = latencyAfter.get(endpoint.service)?.get(key);
      const answers = [...(responses.get(endpoint.name) ?? new Map<number, number>())].sort(([a], [b]) => a - b);
      const q = (p: number) => (after ? quantile(latencyBefore.get(endpoint.service)?.get(key), after, p) : { seconds: NaN, total: 0 });
      const ms = (p: number) => {
        const value = q(p).seconds * 1000;
        return Number.isNaN(value) ? '-' : value.toFixed(1);
      };
      console.log(
        `${endpoint.name.padEnd(22)} ${String(answers.reduce((sum, [, n]) => sum + n, 0)).padStart(8)}  ${answers
          .map(([status, n]) => `${status}×${n}`)
          .join(' ')
          .padEnd(28)} ${ms(0.5).padStart(8)} ${ms(0.95).padStart(8)} ${ms(0.99).padStart(8)}`,
      );
    }
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
