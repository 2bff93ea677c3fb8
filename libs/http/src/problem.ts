/** The media type of every error answer (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * An error answer as RFC 9457 defines it, plus `code`: the stable, machine-readable
 * name of the error (`PAYMENT.IDEMPOTENCY_KEY_REUSED`) that clients branch on.
 * `detail` is for humans and may change wording; `code` never does.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance: string;
  [extension: string]: unknown;
}

/** The `type` URI of a problem with a stable code; generic HTTP errors use `about:blank`. */
export const problemType = (code: string): string => `urn:conveyor:problem:${code.toLowerCase()}`;
