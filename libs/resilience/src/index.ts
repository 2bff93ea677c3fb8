export {
  DownstreamConnectionError,
  DownstreamError,
  DownstreamErrorCode,
  DownstreamRejectedError,
  DownstreamResponseTooLargeError,
  DownstreamServerError,
  DownstreamTimeoutError,
  DownstreamUnavailableError,
  mayHaveBeenApplied,
} from './errors';
export { createResilientHttpClient, ResilientHttpClient } from './resilient-http-client';
export { backoffDelayMs, isRetryableError, isRetryableRequest, MAX_RETRIES, worstCaseCallMs } from './retry-policy';
export { Bulkhead } from './bulkhead';
export { SingleFlight } from './single-flight';
export { clientOptionsFromEnv, downstreamClientEnv, type DownstreamEnv, type DownstreamEnvDefaults } from './client-env';
export { ResilienceModule, type ResilientClientDefinition } from './resilience.module';
export type {
  BreakerOptions,
  BreakerState,
  BulkheadOptions,
  DownstreamRequest,
  DownstreamResponse,
  DownstreamStream,
  HttpMethod,
  ResilientHttpClientOptions,
  RetryOptions,
} from './types';
export { WorkerPool, WorkerTaskFailedError, WorkerTaskTimeoutError, type WorkerPoolOptions, type WorkerPoolSlot, type WorkerTask } from './worker-pool';
