import { itFuzzesEveryOperation, startServiceProcess, type ServiceProcess } from '@conveyor/testing';

/**
 * Issue #10's fuzz suite on provider-sim's partner API (its admin API is off,
 * as in any deployment: it is a test-control API that can take the simulator
 * down on purpose): no 5xx, every answer as documented (status, content type, headers, body).
 */
describe('provider-sim: fuzzing from the OpenAPI document', () => {
  let sim: ServiceProcess;

  beforeAll(async () => {
    sim = await startServiceProcess('services/provider-sim/src/main.ts', { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' });
  });
  afterAll(() => sim?.stop());

  itFuzzesEveryOperation('provider-sim', () => sim.url, { 'no one': () => ({}) }, { maxExamples: 20 });
});
