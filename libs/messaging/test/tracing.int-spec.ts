import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ChannelModel } from 'amqplib';
import { connectTestRabbitmq, createTestTopic, localServers, parentSpan, testKafka, uniqueName, waitForTraceById, type JaegerSpan } from '@conveyor/testing';
import { closeTestDataSource, openTestDataSource } from './support/harness';

const run = promisify(execFile);
const workspaceRoot = path.resolve(__dirname, '../../..');

const parentOf = parentSpan;
// Jaeger shows a span link as a FOLLOWS_FROM reference (and folds the parent into it when both name the same span).
const linkedTo = (span: JaegerSpan) => span.references.filter((r) => r.refType === 'FOLLOWS_FROM').map((r) => r.spanID);

describe('Trace propagation through the outbox', () => {
  let rabbit: ChannelModel;
  beforeAll(async () => {
    rabbit = await connectTestRabbitmq();
  });
  afterAll(() => rabbit.close());

  it('When a request writes outbox rows, then `publish <destination>` and `process <destination>` spans belong to its trace, each the child of the one before, the consumer also linked to the producer', async () => {
    const handle = await openTestDataSource('traced');
    const topic = await createTestTopic(testKafka(), 'traced');
    const exchange = uniqueName('traced_exchange');
    const queue = uniqueName('traced_queue');
    const serviceName = uniqueName('messaging_trace');
    try {
      const { stdout } = await run(
        process.execPath,
        [
          '-r',
          '@swc-node/register',
          'libs/messaging/test/fixtures/traced-flow.ts',
          serviceName,
          localServers().OTEL_EXPORTER_OTLP_ENDPOINT,
          handle.db.database,
          topic,
          exchange,
          queue,
        ],
        { cwd: workspaceRoot, env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.base.json' }, timeout: 60_000 },
      );
      const traceId = stdout.trim().split('\n').at(-1) ?? '';
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);

      // The fixture shut its SDK down (flushing the exporter) before printing the id.
      const found = await waitForTraceById(traceId, (t) => t.spans.filter((s) => s.operationName.startsWith('process ')).length >= 2);
      const byName = (name: string) => {
        const span = found.spans.find((s) => s.operationName === name);
        if (!span) throw new Error(`no span "${name}" in ${found.spans.map((s) => s.operationName).join(', ')}`);
        return span;
      };
      const request = byName('POST /orders');
      const kafkaPublish = byName(`publish ${topic}`);
      const kafkaProcess = byName(`process ${topic}`);
      const rabbitPublish = byName(`publish ${exchange}`);
      const rabbitProcess = byName(`process ${queue}`);
      expect(parentOf(found, kafkaPublish)?.spanID).toBe(request.spanID);
      expect(parentOf(found, kafkaProcess)?.spanID).toBe(kafkaPublish.spanID);
      expect(parentOf(found, rabbitPublish)?.spanID).toBe(request.spanID);
      expect(parentOf(found, rabbitProcess)?.spanID).toBe(rabbitPublish.spanID);
      expect(linkedTo(kafkaProcess)).toEqual([kafkaPublish.spanID]);
      expect(linkedTo(rabbitProcess)).toEqual([rabbitPublish.spanID]);
      // The handler's own database work hangs under the consumer span (pg instrumentation).
      expect(found.spans.some((s) => parentOf(found, s)?.spanID === kafkaProcess.spanID)).toBe(true);
    } finally {
      const channel = await rabbit.createChannel();
      for (const q of [queue, `${queue}.dlq`, `${queue}.delay.100ms`]) await channel.deleteQueue(q);
      await channel.deleteExchange(exchange);
      await channel.close();
      await closeTestDataSource(handle);
    }
  }, 90_000);
});
