import { DownstreamRejectedError } from '@conveyor/resilience';

/** 4xx that say "not now" rather than "never": retried like a 5xx. */
const TRANSIENT_4XX = new Set([408, 409, 425, 429]);

const bodyCode = (body: unknown): string | undefined => {
  const code = (body as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * Whether a failed gateway call was refused for good (a 4xx: invalid number,
 * unknown device), which sending it again cannot help: the reason to log
 * (the gateway's problem `code`, else `REJECTED_<status>`), or undefined
 * for anything to retry (5xx, timeout, connection lost, breaker open,
 * bulkhead full, a 4xx that says "not now", or a 4xx that answers a retry
 * after an attempt that may have been applied).
 */
export function refusalReason(error: unknown): string | undefined {
  if (!(error instanceof DownstreamRejectedError) || error.afterAmbiguousAttempt || TRANSIENT_4XX.has(error.upstreamStatus)) return undefined;
  return bodyCode(error.body) ?? `REJECTED_${error.upstreamStatus}`;
}
