import { OrderPaid } from '@conveyor/contracts';
import { eventually, uniqueName } from '@conveyor/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { startPointsStack, type PointsStack } from './support/points-stack';

jest.setTimeout(90_000);

describe('points: trace context', () => {
  let stack: PointsStack;

  beforeAll(async () => {
    // Tracing on (exported to the local Jaeger): the consumer's span must be the parent of what the award writes.
    stack = await startPointsStack({ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_SAMPLER_ARG: '1' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("When an OrderPaid arrives with the order's traceparent, then the PointsAwarded event and the push it writes carry that same trace", async () => {
    const traceId = randomBytes(16).toString('hex');
    const user = uniqueName('traced');
    const orderId = randomUUID();
    const paid = OrderPaid.create(orderId, { orderId, customerId: user, sellerId: 's-1', amountMinor: 5_000, currency: 'KRW', paymentId: 'p-1' });
    await stack.publishOrderEvents([paid], { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });

    const rows = await eventually(
      async () => {
        const { rows } = await stack.sql.query<{ type: string; traceparent: string }>(
          `SELECT payload::jsonb ->> 'type' AS type, headers ->> 'traceparent' AS traceparent
           FROM (SELECT message_key, payload, headers FROM outbox UNION ALL SELECT message_key, payload, headers FROM outbox_published) o WHERE message_key = $1`,
          [user],
        );
        return rows.length >= 2 ? rows : undefined;
      },
      { timeoutMs: 30_000, what: 'the outbox rows of the award' },
    );
    expect(rows.map((r) => r.type).sort()).toEqual(['PointsAwarded', 'SendPush']);
    for (const row of rows) expect(row.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });
});
