import type { EventEnvelope } from '@conveyor/contracts';
import type { EntityManager } from 'typeorm';

/**
 * The second argument of every handler (`@Ctx()`). `manager` belongs to the
 * transaction that also records the message in the inbox: write through it
 * and the effect is applied exactly once, or not at all. (A RabbitMQ consumer
 * with `inbox: false` gives the plain manager, no transaction: its handler
 * makes the effect idempotent itself.)
 */
export class MessageContext {
  constructor(
    /** EntityManager of the handler's transaction. */
    readonly manager: EntityManager,
    readonly envelope: EventEnvelope,
    /** Kafka topic, or the RabbitMQ queue. */
    readonly source: string,
    readonly headers: Record<string, string>,
    /** 1 on first delivery; counts in-place retries (Kafka) or delay-queue rounds (RabbitMQ). */
    readonly attempt: number,
    /** Kafka partition and offset; undefined for RabbitMQ. */
    readonly partition?: number,
    readonly offset?: string,
    /** The consumer: Kafka group id, or the RabbitMQ queue (the inbox's `consumer`). */
    readonly consumer?: string,
    /**
     * RabbitMQ: the attempts a message gets (the first and one per delay queue).
     * A handler that keeps its own delivery state reads {@link isLastAttempt}.
     */
    readonly maxAttempts?: number,
  ) {}

  /**
   * Whether a failure now, unless it is an infrastructure one (which never
   * uses up an attempt: see `classifyFailure`), dead-letters the message.
   */
  get isLastAttempt(): boolean {
    return this.maxAttempts !== undefined && this.attempt >= this.maxAttempts;
  }
}
