import {
  createTestDatabase,
  createTestTopic,
  eventually,
  startServiceProcess,
  testKafka,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@conveyor/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startMetricsService } from './fixtures/metrics-service';

const DASHBOARD = path.resolve(__dirname, '../../../helm/conveyor/dashboards/conveyor-services.json');

// Counters that only get a sample when their fault happens (a full bulkhead,
// a broker refusing a batch): for these, the metric's `# TYPE` line in
// /metrics is the proof that it is exported; every other one needs a sample.
const ONLY_ON_FAULTS = new Set(['bulkhead_rejections_total', 'outbox_publish_failures_total']);

// PromQL words that are not metric names.
const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'by',
  'without',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'and',
  'or',
  'unless',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
]);

/** Every metric name the dashboard's queries use: the identifiers left once label matchers, groupings, ranges and functions are removed. */
function dashboardMetrics(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const names = new Set<string>();
  for (const expr of dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr)) {
    const bare = expr
      .replace(/\{[^}]*\}/g, ' ') // label matchers
      .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ') // grouping labels
      .replace(/\[[^\]]*\]/g, ' '); // range selectors
    for (const [identifier] of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) if (!PROMQL_WORDS.has(identifier)) names.add(identifier);
  }
  return [...names].sort();
}

describe('The Grafana dashboard of the chart', () => {
  let db: TestDatabase;
  let sim: ServiceProcess;
  let app: NestFastifyApplication | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('dashboard');
    sim = await startServiceProcess('services/provider-sim/src/main.ts', { PROVIDER_SIM_ADMIN: 'true', OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await sim?.stop();
    await db?.drop();
  });

  it('When a chassis service with every metric source has served, consumed and called out, then every metric a dashboard query names is on its /metrics', async () => {
    const names = dashboardMetrics();
    expect(names).toEqual(
      expect.arrayContaining(['http_server_request_duration_seconds_bucket', 'messaging_consumer_lag_messages', 'outbox_backlog_messages']),
    );

    const topic = await createTestTopic(testKafka(), 'dashboard');
    const service = await startMetricsService({
      POSTGRES_DB: db.database,
      PROBE_TOPIC: topic,
      PROBE_EXCHANGE: uniqueName('dashboard_exchange'),
      PROBE_QUEUE: uniqueName('dashboard_queue'),
      KAFKA_CONSUMER_GROUP: uniqueName('dashboard_group'),
      KAFKA_CONSUMER_MAX_ATTEMPTS: '1',
      RABBITMQ_RETRY_DELAYS_MS: '50',
      OUTBOX_POLL_INTERVAL_MS: '50',
      PAYMENTS_URL: sim.url,
      PAYMENTS_MAX_RETRIES: '1',
      PAYMENTS_RETRY_BASE_DELAY_MS: '1',
      PAYMENTS_RETRY_MAX_DELAY_MS: '2',
      // A call and its retry fail and open the breaker, and the next call is refused: retries, transitions and rejections get samples.
      PAYMENTS_BREAKER_VOLUME_THRESHOLD: '2',
      PAYMENTS_BREAKER_RESET_TIMEOUT_MS: '600000',
    });
    app = service.app;
    const scrape = async (): Promise<string> => (await fetch(`${service.url}/metrics`)).text();

    // Both consumers are up once their queue and lag are readable (the RabbitMQ queue must exist before the relay publishes to its exchange).
    await eventually(
      async () => {
        const text = await scrape();
        return /^messaging_queue_messages\{/m.test(text) && /^messaging_consumer_lag_messages\{/m.test(text) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'both consumers started' },
    );

    expect((await fetch(`${service.url}/emit/fine`, { method: 'POST' })).status).toBe(201);
    expect((await fetch(`${service.url}/emit/poison`, { method: 'POST' })).status).toBe(201);
    await fetch(`${sim.url}/_admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ 'GET /v1/payments/orders/:orderId': { errorRate: 1, errorStatus: 503 } }),
    });
    for (let i = 0; i < 2; i += 1) await fetch(`${service.url}/call`, { method: 'POST' });

    // The poison probe reaches both dead-letter queues, and the group commits past it.
    const text = await eventually(
      async () => {
        const t = await scrape();
        const deadLettered = [...t.matchAll(/^messaging_dead_letter_messages\{[^}]*\} (\d+)/gm)].map((m) => Number(m[1]));
        const lagged = [...t.matchAll(/^messaging_consumer_lag_messages\{[^}]*\} (\d+)/gm)].map((m) => Number(m[1]));
        return deadLettered.length === 2 && deadLettered.every((n) => n === 1) && lagged.every((n) => n === 0) ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the poison probe in both dead-letter queues, no lag left' },
    );

    const missing = names.filter((name) => {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      const declared = new RegExp(`^# TYPE (${name}|${base}) `, 'm').test(text);
      const sampled = new RegExp(`^${name}(\\{| )`, 'm').test(text);
      return ONLY_ON_FAULTS.has(name) ? !declared : !sampled;
    });
    expect(missing).toEqual([]);
  }, 180_000);
});
