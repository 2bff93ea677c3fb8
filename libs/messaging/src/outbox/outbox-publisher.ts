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
  publish(messages: PendingOutboxMessage[]): Promise<void>;
  close(): Promise<void>;
}
