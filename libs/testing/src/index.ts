export { localServers, type LocalServers } from './local-servers';
export { TEST_RUN_ID, uniqueName } from './unique-names';
export { createTestDatabase, type TestDatabase } from './postgres';
export { createTestTopic, testKafka } from './kafka';
export { connectTestRabbitmq } from './rabbitmq';
export { testRedis } from './redis';
export { findTraces, waitForTrace, type JaegerTrace } from './jaeger';
export { eventually } from './wait';
export { freePort, runServiceExpectingExit, startServiceProcess, type ProcessExit, type ServiceProcess } from './service-process';
