import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager, type EntitySubscriberInterface, type QueryRunner } from 'typeorm';

/**
 * Runs work after the transaction of an EntityManager commits (and drops it on
 * rollback): a signal to other processes (a cache invalidation) must not go out
 * before the change it announces is visible, or a reader could re-cache the old
 * state in between. Hooked into TypeORM's transaction events; the work is
 * best-effort (logged on failure), which is what a pub/sub signal is anyway.
 */
@Injectable()
export class AfterCommit implements OnModuleInit {
  private readonly log = new Logger(AfterCommit.name);
  private readonly pending = new WeakMap<QueryRunner, (() => Promise<void>)[]>();

  constructor(private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    const subscriber: EntitySubscriberInterface = {
      afterTransactionCommit: ({ queryRunner }) => {
        if (queryRunner.isTransactionActive) return; // a savepoint, not the transaction
        const work = this.pending.get(queryRunner) ?? [];
        this.pending.delete(queryRunner);
        for (const run of work) run().catch((error: unknown) => this.log.warn({ err: error }, 'after-commit work failed'));
      },
      afterTransactionRollback: ({ queryRunner }) => {
        if (!queryRunner.isTransactionActive) this.pending.delete(queryRunner);
      },
    };
    this.dataSource.subscribers.push(subscriber);
  }

  /** Schedules `work` for when the manager's transaction has committed; outside a transaction, runs it now. */
  schedule(manager: EntityManager, work: () => Promise<void>): void {
    const runner = manager.queryRunner;
    if (!runner?.isTransactionActive) {
      work().catch((error: unknown) => this.log.warn({ err: error }, 'after-commit work failed'));
      return;
    }
    this.pending.set(runner, [...(this.pending.get(runner) ?? []), work]);
  }
}
