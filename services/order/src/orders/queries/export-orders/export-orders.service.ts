import { APP_CONFIG } from '@conveyor/config';
import { ReadRouter } from '@conveyor/persistence';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { stringify } from 'csv-stringify';
import { pipeline, Readable } from 'node:stream';
import { Pool, type PoolClient } from 'pg';
import type { OrderConfig } from '../../../config';
import { EXPORT_CSV_OPTIONS, toExportRecord, type ExportRow } from '../../domain/order-export-csv';
import { ExportsBusy } from '../../order.errors';
import { OrdersRepository } from '../../orders.repository';

/** Retry-After of an export turned away: an export takes a while. */
export const EXPORT_BUSY_RETRY_AFTER_SECONDS = 5;

@Injectable()
export class ExportOrdersService implements OnModuleDestroy {
  protected readonly logger = new Logger('ExportOrders');
  /** The exports' own connections (ORDER_EXPORT_MAX_CONCURRENT of them), apart from the service's pool. */
  private readonly pool: Pool;
  /** The same, to the read replica when one is configured: an export goes there when the ReadRouter says so. */
  private readonly replicaPool: Pool | undefined;
  private active = 0;

  constructor(
    protected readonly orders: OrdersRepository,
    @Inject(APP_CONFIG) protected readonly config: OrderConfig,
    protected readonly reads: ReadRouter,
  ) {
    this.pool = this.exportPool(orders.connectionOptions);
    const replica = reads.replicaEndpoint;
    this.replicaPool = replica ? this.exportPool({ ...orders.connectionOptions, ...replica }) : undefined;
  }

  private exportPool(db: OrdersRepository['connectionOptions']): Pool {
    const pool = new Pool({
      host: db.host,
      port: db.port,
      user: db.username,
      password: typeof db.password === 'string' ? db.password : undefined,
      database: db.database,
      application_name: `${db.applicationName ?? 'order'}-export`,
      max: this.config.ORDER_EXPORT_MAX_CONCURRENT,
      // The cursor is one statement for its whole life: the export's own bound, not the pool's.
      statement_timeout: this.config.ORDER_EXPORT_TIMEOUT_MS,
      connectionTimeoutMillis: this.config.POSTGRES_POOL_WAIT_MS,
      idleTimeoutMillis: 10_000,
    });
    pool.on('error', (error) => this.logger.warn({ err: error }, 'idle export connection failed'));
    return pool;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([this.pool.end(), this.replicaPool?.end()]);
  }

  /** A connection for an export by `readerId`: the replica's when the ReadRouter allows (read-your-writes included), else the primary's. */
  private async connection(readerId: string | undefined): Promise<PoolClient> {
    if (this.replicaPool && (await this.reads.route(readerId)) === 'replica') {
      try {
        return await this.replicaPool.connect();
      } catch (error) {
        this.reads.replicaFailed(error);
      }
    }
    return this.pool.connect();
  }

  /**
   * The CSV of the orders created in [from, to), oldest first, read through a
   * server-side cursor (pg-query-stream) in batches and piped through one
   * csv-stringify stream: the cursor is read only as fast as the client takes
   * the answer (back-pressure). The connection is held until the last row is
   * read or the client goes away: `pipeline` destroys the cursor either way,
   * and the generator's `finally` releases the connection and the slot.
   *
   * At most ORDER_EXPORT_MAX_CONCURRENT exports at once (one more: 503
   * ORDER.EXPORTS_BUSY with Retry-After), each on a connection of the
   * exports' own pool, with ORDER_EXPORT_TIMEOUT_MS as its statement_timeout:
   * slow readers hold export connections, never the ones orders need.
   * With a read replica configured the cursor runs there, unless `readerId`
   * wrote something the replica has not replayed yet.
   */
  async csv(from: Date, to: Date, readerId?: string): Promise<Readable> {
    if (this.active >= this.config.ORDER_EXPORT_MAX_CONCURRENT) {
      throw new ExportsBusy(this.config.ORDER_EXPORT_MAX_CONCURRENT, EXPORT_BUSY_RETRY_AFTER_SECONDS);
    }
    this.active += 1;
    let client: PoolClient | undefined;
    let released = false;
    const release = (error?: Error): void => {
      if (released) return;
      released = true;
      this.active -= 1;
      client?.release(error);
    };
    let rows: Readable;
    try {
      client = await this.connection(readerId);
      rows = this.orders.exportRows(client, from, to);
    } catch (error) {
      release(error as Error);
      throw error;
    }
    const logger = this.logger;
    const records = async function* (): AsyncGenerator<(string | null)[]> {
      let count = 0;
      let failure: Error | undefined;
      try {
        for await (const row of rows as AsyncIterable<ExportRow>) {
          count += 1;
          yield toExportRecord(row);
        }
      } catch (error) {
        failure = error as Error;
        throw error;
      } finally {
        // A cursor left open mid-way: the connection is dropped rather than reused half-read.
        const complete = failure === undefined && rows.readableEnded;
        rows.destroy();
        release(complete ? undefined : (failure ?? new Error('export ended early')));
        logger.debug({ rows: count }, 'orders export streamed');
      }
    };
    const csv = stringify(EXPORT_CSV_OPTIONS);
    // An error here was already sent to the client as a cut-off body; the log is what is left to do.
    pipeline(Readable.from(records()), csv, (error) => {
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') logger.error({ err: error }, 'orders export failed mid-stream');
      // Ended before the generator ever ran (its finally would not): the slot and the connection still go back.
      if (!released) {
        rows.destroy();
        release(error ?? new Error('export ended before it was read'));
      }
    });
    return csv;
  }
}
