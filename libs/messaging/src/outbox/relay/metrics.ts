import { metricOnce } from '@conveyor/telemetry';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * The relay's metrics in the service's registry: counters it bumps, and
 * gauges read from the database at scrape time. Two relays in one process
 * (one per broker, or tests) share them. Without a registry every call is a
 * no-op.
 */
export class OutboxMetrics {
  private readonly publishedTotal?: Counter<'destination'>;
  private readonly parkedTotal?: Counter;
  private readonly failuresTotal?: Counter;
  private readonly wakeupsTotal?: Counter<'reason'>;
  private readonly listenReconnectsTotal?: Counter;

  constructor(registry: Registry | undefined, dataSource: DataSource) {
    if (!registry) return;
    this.publishedTotal = metricOnce(
      registry,
      'outbox_published_messages_total',
      () =>
        new Counter({
          name: 'outbox_published_messages_total',
          help: 'Outbox rows published and confirmed by the broker.',
          labelNames: ['destination'],
          registers: [registry],
        }),
    );
    this.parkedTotal = metricOnce(
      registry,
      'outbox_parked_total',
      () =>
        new Counter({
          name: 'outbox_parked_total',
          help: 'Outbox rows parked after the broker refused them maxPublishAttempts times.',
          registers: [registry],
        }),
    );
    metricOnce(
      registry,
      'outbox_parked_messages',
      () =>
        new Gauge({
          name: 'outbox_parked_messages',
          help: 'Outbox rows parked now (each holds back the later rows of its key to its broker until unparked).',
          registers: [registry],
          async collect() {
            this.set(await parkedCount(dataSource));
          },
        }),
    );
    this.failuresTotal = metricOnce(
      registry,
      'outbox_publish_failures_total',
      () =>
        new Counter({
          name: 'outbox_publish_failures_total',
          help: 'Outbox batches that failed to publish (broker down or timed out).',
          registers: [registry],
        }),
    );
    this.wakeupsTotal = metricOnce(
      registry,
      'outbox_relay_wakeups_total',
      () =>
        new Counter({
          name: 'outbox_relay_wakeups_total',
          help: 'Times an idle relay looked at the outbox again: on a notification (notify) or when the poll interval ran out (poll).',
          labelNames: ['reason'],
          registers: [registry],
        }),
    );
    this.listenReconnectsTotal = metricOnce(
      registry,
      'outbox_listen_reconnects_total',
      () =>
        new Counter({
          name: 'outbox_listen_reconnects_total',
          help: 'LISTEN connections of the notify relay that dropped (or could not be opened) and are opened again.',
          registers: [registry],
        }),
    );
    const stats = () => outboxStats(dataSource);
    metricOnce(
      registry,
      'outbox_backlog_messages',
      () =>
        new Gauge({
          name: 'outbox_backlog_messages',
          help: 'Outbox rows not yet published.',
          registers: [registry],
          async collect() {
            this.set((await stats()).backlog);
          },
        }),
    );
    metricOnce(
      registry,
      'outbox_oldest_pending_age_seconds',
      () =>
        new Gauge({
          name: 'outbox_oldest_pending_age_seconds',
          help: 'Age of the oldest unpublished outbox row (0 when none).',
          registers: [registry],
          async collect() {
            this.set((await stats()).oldestAgeSeconds);
          },
        }),
    );
  }

  published(destination: 'kafka' | 'rabbitmq', count: number): void {
    this.publishedTotal?.inc({ destination }, count);
  }

  parked(): void {
    this.parkedTotal?.inc();
  }

  failed(): void {
    this.failuresTotal?.inc();
  }

  wokeUp(reason: 'notify' | 'poll'): void {
    this.wakeupsTotal?.inc({ reason });
  }

  listenReconnect(): void {
    this.listenReconnectsTotal?.inc();
  }
}

/** Rows waiting and the age of the oldest, as the gauges report them. */
export async function outboxStats(db: DataSource | EntityManager): Promise<{ backlog: number; oldestAgeSeconds: number }> {
  const [row]: { backlog: string; age: string | null }[] = await db.query(
    `SELECT count(*) AS backlog, EXTRACT(EPOCH FROM (clock_timestamp() - min(created_at))) AS age FROM outbox`,
  );
  return { backlog: Number(row.backlog), oldestAgeSeconds: row.age === null ? 0 : Number(row.age) };
}

/** Rows parked now. */
async function parkedCount(db: DataSource | EntityManager): Promise<number> {
  const [row]: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM outbox WHERE parked_at IS NOT NULL`);
  return row.n;
}
