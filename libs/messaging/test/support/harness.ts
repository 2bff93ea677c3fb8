import { Module, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, Payload, type CustomTransportStrategy } from '@nestjs/microservices';
import { defineEvent } from '@conveyor/contracts';
import { createTestDatabase, localServers, type TestDatabase } from '@conveyor/testing';
import { Client } from 'pg';
import { DataSource, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { z } from 'zod';
import { addToOutbox, eventMessage, MessageConsumer, MessageContext, messagingMigrations, type OutboxDestination } from '../../src';

/** The event the tests send: a per-key sequence number, so order and duplicates are visible. */
export const ItemRecorded = defineEvent('ItemRecorded', 1, z.object({ key: z.string().min(1), seq: z.number().int().min(0) }));

class CreateEffectsTable1764000000100 implements MigrationInterface {
  name = 'CreateEffectsTable1764000000100';
  async up(q: QueryRunner): Promise<void> {
    // No unique constraint on event_id on purpose: exactly-once must come from the inbox.
    await q.query(
      `CREATE TABLE effects (id bigserial PRIMARY KEY, event_id text NOT NULL, key text NOT NULL, seq int NOT NULL, consumer text NOT NULL DEFAULT '')`,
    );
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE effects`);
  }
}

/** A DataSource on one test database (of the local PostgreSQL), with the test migrations registered. */
export function testDataSource(database: string, poolSize = 10): DataSource {
  const s = localServers();
  return new DataSource({
    type: 'postgres',
    host: s.POSTGRES_HOST,
    port: s.POSTGRES_PORT,
    username: s.POSTGRES_USER,
    password: s.POSTGRES_PASSWORD,
    database,
    migrations: [...messagingMigrations, CreateEffectsTable1764000000100],
    synchronize: false,
    extra: { max: poolSize },
  });
}

/** A fresh database with the outbox, inbox and effects tables, migrated. */
export async function openTestDataSource(prefix: string, poolSize = 10): Promise<{ db: TestDatabase; dataSource: DataSource }> {
  const db = await createTestDatabase(prefix);
  const dataSource = testDataSource(db.database, poolSize);
  await dataSource.initialize();
  await dataSource.runMigrations();
  return { db, dataSource };
}

export async function closeTestDataSource(handle: { db: TestDatabase; dataSource: DataSource } | undefined): Promise<void> {
  if (!handle) return;
  await handle.dataSource.destroy().catch(() => undefined);
  await handle.db.drop();
}

/**
 * Writes `count` events over `keys` keys (round robin, per-key seq 0, 1, …),
 * `perTransaction` events per committed transaction. Pass `seq` to continue the sequences of an earlier call.
 */
export async function writeEvents(
  dataSource: DataSource,
  destination: OutboxDestination,
  {
    count,
    keys,
    perTransaction = 100,
    keyPrefix = 'key',
    seq = new Map<string, number>(),
  }: { count: number; keys: number; perTransaction?: number; keyPrefix?: string; /** carries per-key seqs across calls */ seq?: Map<string, number> },
): Promise<void> {
  for (let start = 0; start < count; start += perTransaction) {
    await dataSource.transaction(async (manager) => {
      const messages = [];
      for (let i = start; i < Math.min(count, start + perTransaction); i += 1) {
        const key = `${keyPrefix}-${i % keys}`;
        const next = seq.get(key) ?? 0;
        seq.set(key, next + 1);
        messages.push(eventMessage(destination, ItemRecorded.create(key, { key, seq: next })));
      }
      await addToOutbox(manager, messages);
    });
  }
}

/** Reads the effects: how many, how many distinct events, and whether every key's seqs arrived in order. */
export async function effectsSummary(dataSource: DataSource, consumer = ''): Promise<{ total: number; distinct: number; outOfOrder: number }> {
  const [row]: { total: string; distinct: string }[] = await dataSource.query(
    `SELECT count(*) AS total, count(DISTINCT event_id) AS distinct FROM effects WHERE consumer = $1`,
    [consumer],
  );
  // Applied order is id order; within a key, seq must rise by one each time.
  const [order]: { out_of_order: string }[] = await dataSource.query(
    `SELECT count(*) AS out_of_order FROM (
       SELECT seq, lag(seq) OVER (PARTITION BY key ORDER BY id) AS previous FROM effects WHERE consumer = $1
     ) s WHERE previous IS NOT NULL AND seq <> previous + 1`,
    [consumer],
  );
  return { total: Number(row.total), distinct: Number(row.distinct), outOfOrder: Number(order.out_of_order) };
}

/** What the test handler does before it records the effect (throw to fail the delivery). */
export type Behaviour = (event: { key: string; seq: number }, ctx: MessageContext) => Promise<void> | void;

/** Records the effect through the handler's transaction. */
export async function recordEffect(manager: EntityManager, ctx: MessageContext, event: { key: string; seq: number }, consumer = ''): Promise<void> {
  await manager.query(`INSERT INTO effects (event_id, key, seq, consumer) VALUES ($1, $2, $3, $4)`, [ctx.envelope.id, event.key, event.seq, consumer]);
}

@MessageConsumer()
class ItemsConsumer {
  @EventPattern(ItemRecorded.type)
  async onItemRecorded(@Payload() event: { key: string; seq: number }, @Ctx() ctx: MessageContext): Promise<void> {
    const behaviour = ItemsConsumer.behaviours.get(ctx.source);
    if (behaviour) await behaviour(event, ctx);
    await recordEffect(ctx.manager, ctx, event);
  }

  static readonly behaviours = new Map<string, Behaviour>();
}

@Module({ controllers: [ItemsConsumer] })
class ItemsConsumerModule {}

/**
 * Starts a Nest microservice with `strategy` and the ItemRecorded handler.
 * `behaviour` runs before the effect is recorded (throw to fail), keyed by
 * the source topic or queue so tests in one file do not interfere.
 */
export async function startConsumerApp(strategy: CustomTransportStrategy, source: string, behaviour?: Behaviour): Promise<INestMicroservice> {
  if (behaviour) ItemsConsumer.behaviours.set(source, behaviour);
  const module: DynamicModule = { module: ItemsConsumerModule };
  const app = await NestFactory.createMicroservice(module, { strategy, logger: ['error', 'warn'], bufferLogs: false });
  await app.listen();
  return app;
}

/**
 * Holds the row `id` of a `locked_rows` table FOR UPDATE in a transaction of
 * its own connection until `release()`: a handler that locks the same row
 * ({@link lockRow}) runs into its lock timeout on every try, while the
 * database answers everything else.
 */
export async function holdRowLock(db: TestDatabase, id: string): Promise<{ release(): Promise<void> }> {
  const client = new Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  client.on('error', () => undefined); // terminated by an outage test: released either way
  await client.connect();
  await client.query(`CREATE TABLE IF NOT EXISTS locked_rows (id text PRIMARY KEY)`);
  await client.query(`INSERT INTO locked_rows (id) VALUES ($1) ON CONFLICT DO NOTHING`, [id]);
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM locked_rows WHERE id = $1 FOR UPDATE`, [id]);
  return { release: () => client.end().catch(() => undefined) };
}

/** In a handler's transaction: locks the row `id` of `locked_rows`, waiting at most `lockTimeoutMs` (SQLSTATE 55P03 past it). */
export async function lockRow(manager: EntityManager, id: string, lockTimeoutMs = 100): Promise<void> {
  await manager.query(`SET LOCAL lock_timeout = '${lockTimeoutMs}ms'`);
  await manager.query(`SELECT 1 FROM locked_rows WHERE id = $1 FOR UPDATE`, [id]);
}
