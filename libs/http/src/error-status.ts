import type { ErrorKind } from './domain-error';

/**
 * The one mapping from a domain error's kind to its HTTP status. Services
 * name kinds; the problem filter and the OpenAPI decorators read this table,
 * so the answer and its documentation cannot drift apart.
 */
export const statusOfKind: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthenticated: 401,
  payment_declined: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  unsupported_media_type: 415,
  rejected: 422,
  rate_limited: 429,
  upstream_failed: 502,
  unavailable: 503,
  upstream_timeout: 504,
};
