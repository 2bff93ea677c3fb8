import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DomainError } from './domain-error';

/** The `Idempotency-Key` header every idempotent POST of the system takes: 1 to 255 characters. */
export const idempotencyKeyHeader = z.string().min(1).max(255).describe('Makes a repeat of this request answer the first answer (1 to 255 characters).');

/**
 * The fingerprint of a request body an idempotency key is bound to: SHA-256
 * (hex) of its RFC 8785 canonical JSON, so two bodies that differ only in key
 * order or number spelling are the same request.
 */
export function requestFingerprint(body: unknown): string {
  return createHash('sha256')
    .update(canonicalize(body) ?? '')
    .digest('hex');
}

/** The route needs an `Idempotency-Key` header and it is missing or empty. `area` prefixes the code (`ORDER`, `PAYMENT`). */
export class IdempotencyKeyRequired extends DomainError {
  constructor(area: string, what: string) {
    super({ code: `${area}.IDEMPOTENCY_KEY_REQUIRED`, kind: 'invalid', detail: `${what} needs an Idempotency-Key header (1 to 255 characters).` });
  }
}

/** The key was first used with another body (another {@link requestFingerprint}). */
export class IdempotencyKeyReused extends DomainError {
  constructor(area: string, key: string) {
    super({
      code: `${area}.IDEMPOTENCY_KEY_REUSED`,
      kind: 'rejected',
      detail: `Idempotency-Key ${key} was first used with a different request body.`,
      extensions: { idempotencyKey: key },
    });
  }
}
