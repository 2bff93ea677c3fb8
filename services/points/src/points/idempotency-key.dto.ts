import { IdempotencyKeyRequired, idempotencyKeyHeader } from '@conveyor/http';

/** The Idempotency-Key header of a spending route, as the OpenAPI document shows it. */
export const IDEMPOTENCY_KEY_HEADER = { name: 'Idempotency-Key', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } } as const;

/** The request's Idempotency-Key; 400 POINTS.IDEMPOTENCY_KEY_REQUIRED when it is missing or not a key. `what`: "A redemption". */
export function idempotencyKey(raw: string | undefined, what: string): string {
  const parsed = idempotencyKeyHeader.safeParse(raw);
  if (!parsed.success) throw new IdempotencyKeyRequired('POINTS', what);
  return parsed.data;
}
