import { expectFuzzClean, fuzzOpenApi, itFuzzesEveryOperation } from '@conveyor/testing';
import { accountState, asAdmin, asService, asUser, seedAccount, startPointsStack, type PointsStack } from './support/points-stack';

/**
 * schemathesis generates valid and invalid requests for every operation of
 * /openapi.json, as no one, as a user, as an admin and as the lessons service
 * (the one caller completions take), and checks that nothing answers 5xx and
 * every answer is as documented (status, content type, problem+json for
 * errors, headers, body). Then invalid requests only, after which every account still balances.
 */
describe('points service: fuzzing from the OpenAPI document', () => {
  let stack: PointsStack;
  const MAX_EXAMPLES = 15;

  beforeAll(async () => {
    stack = await startPointsStack();
    await seedAccount(stack.sql, 'fuzz-user', 1_000);
  }, 60_000);
  afterAll(() => stack?.stop());

  itFuzzesEveryOperation(
    'points',
    () => stack.service.url,
    {
      'no one': () => ({}),
      'a user': () => asUser('fuzz-user'),
      'an admin': () => asAdmin(),
      'the lessons service': () => asService('lessons', 'points:activities'),
    },
    { maxExamples: MAX_EXAMPLES },
  );

  it('When only invalid requests are sent, as a user, then none is a 5xx or undocumented, and every account still balances with its ledger and lots', async () => {
    // Not "nothing changes": schemathesis's negative mode does not always manage to break a request
    // (a 1-character Idempotency-Key "negated" into another valid one, links that reuse a real
    // balance as the amount), so a few valid redemptions go through, rightly. That bad input changes
    // nothing is asserted case by case in spending.int-spec.ts; here: the invariants hold.
    const run = await fuzzOpenApi(stack.service.url, { headers: await asUser('fuzz-user'), maxExamples: MAX_EXAMPLES, mode: 'negative' });
    expectFuzzClean(run, 'points as a user, invalid requests only', { allOperations: false });
    const { rows } = await stack.sql.query<{ user_id: string }>('SELECT user_id FROM accounts');
    expect(rows.length).toBeGreaterThan(0);
    for (const { user_id } of rows) {
      const state = await accountState(stack.sql, user_id);
      expect(state).toEqual({ balance: state.ledgerSum, debt: 0, ledgerSum: state.lotsRemaining, lotsRemaining: state.balance });
      expect(state.balance).toBeGreaterThanOrEqual(0);
    }
  }, 300_000);
});
