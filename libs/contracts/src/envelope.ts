import { z } from 'zod';

/**
 * The envelope every domain event travels in. `id` is what idempotent
 * consumers deduplicate on; `aggregateId` is the Kafka key, so the events of
 * one aggregate (one order, one product) stay in order.
 */
export interface EventEnvelope<TType extends string = string, TPayload = unknown> {
  id: string;
  type: TType;
  version: number;
  occurredAt: string;
  aggregateId: string;
  payload: TPayload;
}

/** The envelope fields, without a payload: enough to route and deduplicate a message. */
export const envelopeHeaderSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().min(1),
  occurredAt: z.iso.datetime({ offset: true }),
  aggregateId: z.string().min(1),
  payload: z.unknown(),
});

/** Builds the runtime schema of one event type and version around its payload schema. */
export function eventSchema<TType extends string, TPayload extends z.ZodType>(type: TType, version: number, payload: TPayload) {
  return envelopeHeaderSchema.extend({
    type: z.literal(type),
    version: z.literal(version),
    payload,
  });
}

/** A contract: the event's name, version and schema, and a factory that fills the envelope. */
export interface EventContract<TType extends string, TPayload extends z.ZodType> {
  readonly type: TType;
  readonly version: number;
  readonly schema: ReturnType<typeof eventSchema<TType, TPayload>>;
  /** Creates a new event (fresh uuid, now) after validating the payload. */
  create(aggregateId: string, payload: z.input<TPayload>, now?: Date): EventEnvelope<TType, z.output<TPayload>>;
}

/** Declares an event contract. */
export function defineEvent<TType extends string, TPayload extends z.ZodType>(type: TType, version: number, payload: TPayload): EventContract<TType, TPayload> {
  const schema = eventSchema(type, version, payload);
  return {
    type,
    version,
    schema,
    create: (aggregateId, input, now = new Date()) => ({
      id: crypto.randomUUID(),
      type,
      version,
      occurredAt: now.toISOString(),
      aggregateId,
      payload: payload.parse(input) as z.output<TPayload>,
    }),
  };
}

/** The type of the events a contract describes. */
export type EventOf<C> = C extends EventContract<infer T, infer P> ? EventEnvelope<T, z.output<P>> : never;
