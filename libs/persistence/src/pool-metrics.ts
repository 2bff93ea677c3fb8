import { metricOnce } from '@conveyor/telemetry';
import { Gauge, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';

/** The counters of a node-postgres pool (TypeORM's postgres driver keeps it as `master`). */
interface PgPoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

const poolOf = (dataSource: DataSource): PgPoolCounts | undefined => (dataSource.driver as unknown as { master?: PgPoolCounts }).master;

/** `db_pool_connections{state}` and `db_pool_waiting_requests`, read from the pool at scrape time. */
export function registerPoolMetrics(registry: Registry, dataSource: DataSource): void {
  // One pool per process: a second DataSource (tests) keeps the gauges of the first.
  metricOnce(
    registry,
    'db_pool_connections',
    (registers) =>
      new Gauge({
        name: 'db_pool_connections',
        help: 'Pooled PostgreSQL connections by state (in_use: lent to a query or transaction).',
        labelNames: ['state'],
        registers,
        collect() {
          const pool = poolOf(dataSource);
          this.set({ state: 'in_use' }, pool ? pool.totalCount - pool.idleCount : 0);
          this.set({ state: 'idle' }, pool?.idleCount ?? 0);
        },
      }),
  );
  metricOnce(
    registry,
    'db_pool_waiting_requests',
    (registers) =>
      new Gauge({
        name: 'db_pool_waiting_requests',
        help: 'Callers waiting for a pooled PostgreSQL connection (each gives up after POSTGRES_POOL_WAIT_MS).',
        registers,
        collect() {
          this.set(poolOf(dataSource)?.waitingCount ?? 0);
        },
      }),
  );
}
