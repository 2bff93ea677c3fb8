import { expectFuzzClean, fuzzOpenApi, itFuzzesEveryOperation, type ServiceProcess } from '@conveyor/testing';
import { productEvent, search, startSearchStack, type SearchStack } from './support/search-stack';

/**
 * schemathesis generates valid and invalid requests for every operation of
 * /openapi.json, as no one and as a user: nothing answers 5xx, every answer is as
 * documented (status, content type, headers, body); invalid requests only change nothing.
 */
describe('search service: fuzzing from the OpenAPI document', () => {
  let stack: SearchStack;
  let service: ServiceProcess;
  const MAX_EXAMPLES = 15;

  beforeAll(async () => {
    stack = await startSearchStack();
    service = stack.service;
    await stack.publishProducts([productEvent({ productId: 'fuzz-product', name: '무선 키보드 wireless keyboard' })]);
    while ((await search(service.url, { q: 'keyboard' })).body.results?.length !== 1) await new Promise((r) => setTimeout(r, 100));
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  itFuzzesEveryOperation(
    'search',
    () => service.url,
    { 'no one': () => ({}), 'a user': () => stack.tokens.asUser('fuzz-user') },
    { maxExamples: MAX_EXAMPLES },
  );

  it('When only invalid requests are sent, as a user, then nothing in the database changes', async () => {
    const counts = async () =>
      (await stack.sql.query('SELECT (SELECT count(*) FROM likes) AS likes, (SELECT sum(likes_count) FROM documents) AS counted')).rows[0];
    const before = await counts();
    const run = await fuzzOpenApi(service.url, { headers: await stack.tokens.asUser('fuzz-negative'), maxExamples: MAX_EXAMPLES, mode: 'negative' });
    expectFuzzClean(run, 'search as a user, invalid requests only', { allOperations: false });
    expect(await counts()).toEqual(before);
  }, 300_000);
});
