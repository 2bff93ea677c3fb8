import { withTimeout } from '../../internal/backoff';
import type { OutboxPublisher, PendingOutboxMessage } from '../outbox-publisher';
import type { OutboxMetrics } from './metrics';

/**
 * Hands claimed rows to the broker publishers, one send per destination kind
 * at once, each bounded by `publishTimeoutMs`: resolves once every broker
 * confirmed, rejects on the first failure (an {@link UnpublishableMessageError}
 * when a broker refused something for good). Shared by every relay mode.
 */
export class PublishPipeline {
  constructor(
    private readonly publishers: { kafka?: OutboxPublisher; rabbitmq?: OutboxPublisher },
    private readonly publishTimeoutMs: number,
    private readonly metrics: OutboxMetrics,
  ) {}

  /** Destination kinds without a publisher here: their rows are neither claimed nor waited for. */
  unhandled(): ('kafka' | 'rabbitmq')[] {
    return (['kafka', 'rabbitmq'] as const).filter((kind) => !this.publishers[kind]);
  }

  async publish(messages: PendingOutboxMessage[]): Promise<void> {
    const byKind = new Map<'kafka' | 'rabbitmq', PendingOutboxMessage[]>();
    for (const m of messages) {
      const list = byKind.get(m.destination);
      if (list) list.push(m);
      else byKind.set(m.destination, [m]);
    }
    await Promise.all(
      [...byKind].map(async ([kind, list]) => {
        const publisher = this.publishers[kind];
        if (!publisher) throw new Error(`no publisher for ${kind}`);
        // On timeout the publisher is told to abandon the send (signal), so a
        // stalled broker does not collect one queued copy per retry that it
        // would all deliver once it wakes up.
        const abandon = new AbortController();
        try {
          await withTimeout(
            publisher.publish(list, abandon.signal),
            this.publishTimeoutMs,
            `${kind} did not confirm ${list.length} messages within ${this.publishTimeoutMs} ms`,
          );
        } catch (error) {
          abandon.abort(error);
          throw error;
        }
        this.metrics.published(kind, list.length);
      }),
    );
  }
}
