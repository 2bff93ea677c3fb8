/** A pending outbox row as the relay hands it to a publisher. */
export interface PendingOutboxMessage {
  id: string;
  destination: 'kafka' | 'rabbitmq';
  topic: string;
  routingKey: string | null;
  key: string;
  payload: string;
  headers: Record<string, string>;
}

/**
 * Publishes a batch and resolves only once the broker has confirmed every
 * message (Kafka acks=all, RabbitMQ publisher confirms). Messages of one key
 * must reach the broker in the order given.
 */
export interface OutboxPublisher {
  /**
   * `signal` aborts when the relay gives up on this send (it timed out): the
   * publisher must then drop it rather than keep it queued behind a stalled
   * connection, where every retry would add one more copy. A request already
   * on the wire may still arrive (at least once).
   */
  publish(messages: PendingOutboxMessage[], signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
