import { connectTestRabbitmq, eventually, localServers, uniqueName, withAdminClient } from '@conveyor/testing';
import { addToOutbox, eventMessage, OutboxCdcRelay, RabbitmqOutboxPublisher, unparkOutboxRows } from '../src';
import { closeTestDataSource, ItemRecorded, openTestDataSource } from './support/harness';

/*
 * The stream can deliver a transaction before other sessions see it: the
 * commit record is flushed (so decoded and sent) before the committing
 * backend leaves the list of running transactions. On a loaded machine that
 * window is milliseconds; here it is held open: synchronous replication to a
 * standby that never comes keeps one commit flushed but invisible until its
 * wait is cancelled. The server-wide settings this needs are put back after
 * (deploy/local/infra grants them to the app role, and resets them on start);
 * meanwhile every other session commits as before (synchronous_commit=local).
 * A chaos case because it reconfigures the shared server.
 */

const STANDBY = 'conveyor_chaos_no_such_standby';

describe('Outbox CDC relay and commit visibility', () => {
  it('When the stream delivers an unpark before it is visible, then the relay waits for it and publishes the rows', async () => {
    const handle = await openTestDataSource('cdc_visibility');
    const rabbit = await connectTestRabbitmq();
    const channel = await rabbit.createChannel();
    const exchange = uniqueName('cdc_visibility');
    const queue = uniqueName('cdc_visibility');
    await channel.assertExchange(exchange, 'topic', { durable: false });
    await channel.assertQueue(queue, { durable: false });
    await channel.bindQueue(queue, exchange, 'healthy');
    const publisher = new RabbitmqOutboxPublisher({ url: localServers().RABBITMQ_URL });
    const relay = new OutboxCdcRelay({
      dataSource: handle.dataSource,
      publishers: { rabbitmq: publisher },
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      maxPublishAttempts: 1,
    });
    const command = (key: string, seq: number) => eventMessage({ kind: 'rabbitmq', exchange, routingKey: key }, ItemRecorded.create(key, { key, seq }));
    // In the `postgres` database, where deploy/local/infra grants pg_reload_conf (function grants are per database).
    const configure = (statements: string[]) =>
      withAdminClient(async (admin) => {
        for (const sql of statements) await admin.query(sql); // ALTER SYSTEM: one statement at a time, outside a transaction
        await admin.query(`SELECT pg_reload_conf()`);
      });
    const unparker = handle.dataSource.createQueryRunner();
    try {
      relay.start();
      await eventually(() => (relay.streaming ? true : undefined), { what: 'the relay streaming' });
      await handle.dataSource.transaction((manager) => addToOutbox(manager, [command('poisoned', 0), command('healthy', 0), command('poisoned', 1)]));
      await eventually(async () => ((await handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox_parked_keys`))[0].n === 1 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'the key parked',
      });
      await channel.bindQueue(queue, exchange, 'poisoned');

      await configure([`ALTER SYSTEM SET synchronous_commit = 'local'`, `ALTER SYSTEM SET synchronous_standby_names = '${STANDBY}'`]);
      await unparker.connect();
      await eventually(async () => ((await unparker.query(`SHOW synchronous_standby_names`))[0].synchronous_standby_names === STANDBY ? true : undefined), {
        what: 'the settings reloaded',
      });
      await unparker.query(`SET synchronous_commit = on`);
      const [{ pid }]: { pid: number }[] = await unparker.query(`SELECT pg_backend_pid() AS pid`);
      const unparked = unparkOutboxRows(unparker.manager, { key: 'poisoned', rewrite: true });
      await eventually(
        async () =>
          (await handle.dataSource.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = $1`, [pid]))[0]?.wait_event === 'SyncRep' ? true : undefined,
        { what: 'the unpark committed, waiting for the standby' },
      );
      const [{ at }]: { at: string }[] = await handle.dataSource.query(`SELECT pg_current_wal_flush_lsn()::text AS at`);
      // Once the stream has delivered it, what the relay does while it is
      // invisible: confirm past it (it took the key as still parked, and the
      // rows would be lost) or wait.
      const decided = await eventually(
        async () => {
          const [slot]: { past: boolean }[] = await handle.dataSource.query(
            `SELECT confirmed_flush_lsn >= $2::pg_lsn AS past FROM pg_replication_slots WHERE slot_name = $1`,
            [relay.slotName, at],
          );
          if (slot.past) return 'confirmed past the invisible unpark';
          const waiting = await handle.dataSource.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%FROM pg_locks%' AND pid <> pg_backend_pid()`,
          );
          return waiting.length > 0 ? 'waiting for it to be visible' : undefined;
        },
        { what: 'the relay deciding' },
      );
      expect(decided).toBe('waiting for it to be visible');

      // Cancelling the wait makes the commit visible.
      await handle.dataSource.query(`SELECT pg_cancel_backend($1)`, [pid]);
      await expect(unparked).resolves.toBe(1);
      const received: string[] = [];
      await eventually(
        async () => {
          for (let m = await channel.get(queue, { noAck: true }); m; m = await channel.get(queue, { noAck: true })) {
            const { key, seq } = (JSON.parse(m.content.toString()) as { payload: { key: string; seq: number } }).payload;
            if (key === 'poisoned' && !received.includes(`${key}:${seq}`)) received.push(`${key}:${seq}`);
          }
          return received.length >= 2 ? true : undefined;
        },
        { timeoutMs: 20_000, what: 'the unparked rows' },
      );
      expect(received).toEqual(['poisoned:0', 'poisoned:1']);
      await eventually(async () => ((await handle.dataSource.query(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0 ? true : undefined), {
        what: 'an empty outbox',
      });
    } finally {
      const reset = await configure([`ALTER SYSTEM RESET synchronous_standby_names`, `ALTER SYSTEM RESET synchronous_commit`]).catch((error: Error) => error);
      await unparker.release();
      await relay.stop();
      await publisher.close();
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.deleteExchange(exchange).catch(() => undefined);
      await rabbit.close();
      await eventually(
        async () =>
          (await handle.dataSource.query(`SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [relay.slotName]))[0]?.active ? undefined : true,
        { what: 'the slot released' },
      );
      await handle.dataSource.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [relay.slotName]);
      await closeTestDataSource(handle);
      expect(reset).toBeUndefined(); // the shared server's settings put back
    }
  });
});
