import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createTestTopic, eventually, testKafka, uniqueName } from '@conveyor/testing';
import { KafkaOutboxPublisher, OutboxRelay } from '../src';
import { closeTestDataSource, effectsSummary, openTestDataSource, writeEvents } from './support/harness';

const workspaceRoot = path.resolve(__dirname, '../../..');

function startConsumerProcess(env: Record<string, string>): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'libs/messaging/test/fixtures/kafka-consumer-process.ts'], {
    cwd: workspaceRoot,
    env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
      if (output.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`consumer exited (${code}) before ready:\n${output}`)));
  });
  return { child, ready, output: () => output };
}

describe('Kafka consumer killed with SIGKILL', () => {
  it('When the consumer process is killed mid-batch and restarted, then every effect is applied exactly once', async () => {
    const handle = await openTestDataSource('sigkill');
    const kafka = testKafka();
    const topic = await createTestTopic(kafka, 'sigkill');
    const env = { DATABASE: handle.db.database, TOPIC: topic, GROUP_ID: uniqueName('group') };
    const publisher = new KafkaOutboxPublisher({ kafka });
    const relay = new OutboxRelay({ dataSource: handle.dataSource, publishers: { kafka: publisher } });
    let second: ChildProcess | undefined;
    try {
      const seq = new Map<string, number>();
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 3_000, keys: 30, seq });
      await expect(relay.relayOnce()).resolves.toBeGreaterThan(0);
      relay.start();

      const first = startConsumerProcess(env);
      await first.ready;
      await eventually(async () => ((await effectsSummary(handle.dataSource)).total >= 500 ? true : undefined), {
        timeoutMs: 40_000,
        what: '500 effects before the kill',
      });
      const exited = once(first.child, 'exit');
      first.child.kill('SIGKILL');
      const [, signal] = await exited;
      expect(signal).toBe('SIGKILL');
      const atKill = (await effectsSummary(handle.dataSource)).total;
      expect(atKill).toBeLessThan(3_000); // killed mid-run, not after it

      const restarted = startConsumerProcess(env);
      second = restarted.child;
      await restarted.ready;
      await eventually(async () => ((await effectsSummary(handle.dataSource)).total >= 3_000 ? true : undefined), {
        timeoutMs: 60_000,
        what: 'all 3,000 effects',
      });
      // One sentinel per key (seq 100, after each key's 0..99) through the same outbox and partition:
      // a key's events are applied in order, so once all 30 are applied, whatever the restarted
      // consumer was redelivered before them has been handled, and a duplicate would be counted.
      await writeEvents(handle.dataSource, { kind: 'kafka', topic }, { count: 30, keys: 30, seq });
      await eventually(async () => ((await handle.dataSource.query(`SELECT count(*)::int AS n FROM effects WHERE seq = 100`))[0].n === 30 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'the 30 sentinels',
      });
      await expect(effectsSummary(handle.dataSource)).resolves.toEqual({ total: 3_030, distinct: 3_030, outOfOrder: 0 });
    } finally {
      if (second && second.exitCode === null) {
        const exited = once(second, 'exit');
        second.kill('SIGTERM');
        await exited;
      }
      await relay.stop();
      await publisher.close();
      await closeTestDataSource(handle);
    }
  }, 120_000);
});
