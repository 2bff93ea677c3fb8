import { expectFuzzClean, fuzzOpenApi, itFuzzesEveryOperation } from '@conveyor/testing';
import { asAdmin, asUser, createProduct, startOrderStack, type OrderStack } from './support/order-stack';

/**
 * Issue #10's fuzz suite: schemathesis generates valid and invalid requests for
 * every operation of /openapi.json, as no one, as a user and as an admin, and
 * checks that nothing answers 5xx and every answer is as documented (status,
 * content type, problem+json for errors, headers, body). Then invalid requests only: nothing in the database changes.
 */
describe('order service: fuzzing from the OpenAPI document', () => {
  let stack: OrderStack;
  const MAX_EXAMPLES = 15;

  beforeAll(async () => {
    stack = await startOrderStack();
    await createProduct(stack.order, 1_000); // something for the reads and the orders to find
  }, 60_000);
  afterAll(() => stack?.stop());

  itFuzzesEveryOperation(
    'order',
    () => stack.order.url,
    { 'no one': () => ({}), 'a user': () => asUser('fuzz-user'), 'an admin': () => asAdmin() },
    { maxExamples: MAX_EXAMPLES },
  );

  it('When only invalid requests are sent, as an admin, then nothing in the database changes', async () => {
    const tables = ['products', 'orders', 'order_items', 'idempotency_keys', 'outbox_messages'];
    const counts = async () =>
      Object.fromEntries(await Promise.all(tables.map(async (t) => [t, Number((await stack.sql.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n)])));
    const before = await counts();
    const run = await fuzzOpenApi(stack.order.url, { headers: await asAdmin(), maxExamples: MAX_EXAMPLES, mode: 'negative' });
    expectFuzzClean(run, 'order as an admin, invalid requests only', { allOperations: false });
    expect(await counts()).toEqual(before);
  }, 300_000);
});
