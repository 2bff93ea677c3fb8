import type { LoggerService } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { errorMessage, sleep } from '../../internal/backoff';

/** Deletes published rows from `outbox_published` once they are older than the retention. */
export class OutboxCleanup {
  private readonly options: { retentionMs: number; intervalMs: number; batchSize: number; logger?: LoggerService };

  /** Defaults, for the polling and the CDC relay alike: published rows kept 24 h, deleted 5,000 at a time. */
  constructor(
    private readonly dataSource: DataSource,
    options: { retentionMs?: number; intervalMs: number; batchSize?: number; logger?: LoggerService },
  ) {
    this.options = { ...options, retentionMs: options.retentionMs ?? 24 * 60 * 60 * 1000, batchSize: options.batchSize ?? 5_000 };
  }

  /** Deletes published rows older than the retention, in batches; returns how many. */
  async cleanupOnce(signal?: AbortSignal): Promise<number> {
    let total = 0;
    for (;;) {
      // SKIP LOCKED lets every replica run cleanup without a lease: two of
      // them never wait on or delete the same rows. The table has no key;
      // its BRIN index finds the old page ranges.
      const result: [unknown[], number] = await this.dataSource.query(
        `DELETE FROM outbox_published WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM outbox_published
           WHERE published_at < now() - ($1::bigint * interval '1 millisecond')
           LIMIT $2
           FOR UPDATE SKIP LOCKED))`,
        [this.options.retentionMs, this.options.batchSize],
      );
      const deleted = result[1];
      total += deleted;
      if (deleted < this.options.batchSize || signal?.aborted) return total;
    }
  }

  /** Runs {@link cleanupOnce} every `intervalMs` until `signal` aborts. */
  async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.options.intervalMs, signal);
      if (signal.aborted) return;
      try {
        await this.cleanupOnce(signal);
      } catch (error) {
        this.options.logger?.warn(`outbox cleanup failed: ${errorMessage(error)}`);
      }
    }
  }
}
