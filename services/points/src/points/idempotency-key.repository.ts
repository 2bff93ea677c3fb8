import { deleteInBatches } from '@conveyor/persistence';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * `idempotency_keys` of redemptions and transfers: written and read by
 * libs/persistence `idempotentRequest()` (table `idempotency_keys`, its
 * `idempotencyKeysTableDdl` shape); deleted here, past their retention.
 */
@Injectable()
export class IdempotencyKeyRepository {
  constructor(
    readonly dataSource: DataSource,
    private readonly metrics: MetricsRegistry,
  ) {}

  /**
   * Deletes the keys created more than `retentionMs` ago, `batchSize` per
   * statement, oldest first, until none is left or `signal` aborts
   * (libs/persistence `deleteInBatches`; counted as
   * `retention_rows_deleted_total{table="idempotency_keys"}`). How many.
   */
  deleteOlderThan(retentionMs: number, batchSize: number, signal: AbortSignal): Promise<number> {
    return deleteInBatches(this.dataSource, {
      table: 'idempotency_keys',
      key: ['user_id', 'key'],
      where: `created_at < now() - ($1::bigint * interval '1 millisecond')`,
      parameters: [retentionMs],
      orderBy: 'created_at',
      batchSize,
      signal,
      metrics: this.metrics,
    });
  }
}
