import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Order lines are deleted after SEARCH_ORDER_LINES_RETENTION_MS: the retention job finds the oldest by this index, a batch at a time. */
export class OrderLinesRetention1796077814500 implements MigrationInterface {
  name = 'OrderLinesRetention1796077814500';

  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE INDEX order_lines_created_idx ON order_lines (created_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX order_lines_created_idx');
  }
}
