export { localServers, type LocalServers } from './local-servers';
export { TEST_RUN_ID, uniqueName } from './unique-names';
export { createTestDatabase, withAdminClient, type TestDatabase } from './postgres';
export { createTestTopic, testKafka } from './kafka';
export { connectTestRabbitmq } from './rabbitmq';
export { testRedis } from './redis';
export {
  ancestry,
  findTraces,
  formatTraceTree,
  getTrace,
  newTraceparent,
  parentSpan,
  spanService,
  spanTag,
  waitForTrace,
  waitForTraceById,
  type JaegerSpan,
  type JaegerTrace,
  type TraceQuery,
} from './jaeger';
export { eventually } from './wait';
export { overrideProviders } from './override-providers';
export { freePort, runServiceExpectingExit, startServiceProcess, type ProcessExit, type ServiceProcess } from './service-process';
export {
  asAdmin,
  asService,
  asUser,
  createTestTokens,
  sharedTestTokens,
  TEST_AUDIENCE,
  TEST_ISSUER,
  type TestTokenClaims,
  type TestTokens,
} from './auth-tokens';
export { ensureSchemathesis, expectFuzzClean, fuzzOpenApi, itFuzzesEveryOperation, SCHEMATHESIS_VERSION, type FuzzOptions, type FuzzRun } from './schemathesis';
export { startThrowawayRedis, type ThrowawayRedis, type ThrowawayRedisOptions } from './throwaway-redis';
export { ManualClock } from './manual-clock';
export {
  PROBLEM_JSON,
  PROVIDER_SIM_ENTRY,
  stackNamesEnv,
  startServiceStack,
  type ServiceStack,
  type ServiceStackOptions,
  type StackProcess,
} from './service-stack';
