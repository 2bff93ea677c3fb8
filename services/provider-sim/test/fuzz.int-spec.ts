import { itFuzzesEveryOperation, type ServiceStack } from '@conveyor/testing';
import { startProviderSimStack } from './support/provider-sim-stack';

/**
 * Issue #10's fuzz suite on provider-sim's partner API (its admin API is off,
 * as in any deployment: it is a test-control API that can take the simulator
 * down on purpose): no 5xx, every answer as documented (status, content type, headers, body).
 */
describe('provider-sim: fuzzing from the OpenAPI document', () => {
  let stack: ServiceStack;

  beforeAll(async () => {
    stack = await startProviderSimStack({ admin: false });
  });
  afterAll(() => stack?.stop());

  itFuzzesEveryOperation('provider-sim', () => stack.service.url, { 'no one': () => ({}) }, { maxExamples: 20 });
});
