import type { LoggerService } from '@nestjs/common';
import type { RawPostgres } from '@conveyor/persistence';
import type { Client, Notification } from 'pg';
import { backoffDelay, errorMessage, sleep, withTimeout } from '../../internal/backoff';
import { OUTBOX_CHANNEL } from '../outbox';
import type { OutboxMetrics } from './metrics';

/** Why an idle relay looks at the outbox again. */
export type WakeReason = 'notify' | 'poll';

/**
 * The relay's wake-up: a dedicated connection (outside the pool) that
 * LISTENs on {@link OUTBOX_CHANNEL}, where every transaction that adds to
 * the outbox notifies once per destination kind (see `addToOutbox`). An idle
 * relay waits in {@link wait} for a notification for one of its
 * destinations, or for the poll interval as the safety net for a
 * notification that never came (a writer that does not notify, a
 * notification sent while the connection was down).
 *
 * A dropped connection (the server ended the session, the network went
 * away) is noticed by the client's 'end'/'error' events, or by a heartbeat
 * query that does not answer, and opened again with back-off; after every
 * (re)connect the relay is woken once, for rows committed while nobody
 * listened.
 */
export class NotifyWakeup {
  /** Set by a notification that came while the relay was busy: its next wait returns at once. */
  private pending = false;
  private waiter: (() => void) | undefined;
  private client: Client | undefined;
  private running: Promise<void> | undefined;
  private stopping = new AbortController();
  /** The server process of the LISTEN connection now (tests end it on purpose). */
  listenerPid: number | undefined;

  constructor(
    private readonly postgres: RawPostgres,
    private readonly options: {
      /** Destination kinds this relay publishes: notifications for the others are ignored. */
      destinations: ('kafka' | 'rabbitmq')[];
      heartbeatMs: number;
      backoffInitialMs: number;
      backoffMaxMs: number;
      metrics: OutboxMetrics;
      logger?: LoggerService;
    },
  ) {}

  start(): void {
    if (this.running) return;
    this.stopping = new AbortController();
    this.running = this.listenLoop(this.stopping.signal);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake();
    await this.client?.end().catch(() => undefined);
    await this.running;
    this.running = undefined;
  }

  /** Waits until a notification for this relay arrived (or one arrived since the last wait), or `pollMs` passed. */
  async wait(pollMs: number, signal: AbortSignal): Promise<WakeReason> {
    if (this.pending) {
      this.pending = false;
      return 'notify';
    }
    let woken = false;
    const notified = new Promise<void>((resolve) => {
      this.waiter = () => {
        woken = true;
        resolve();
      };
    });
    const timer = new AbortController();
    const onAbort = (): void => timer.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([notified, sleep(pollMs, timer.signal)]);
    } finally {
      timer.abort();
      signal.removeEventListener('abort', onAbort);
      this.waiter = undefined;
    }
    if (woken) {
      this.pending = false;
      return 'notify';
    }
    return 'poll';
  }

  private wake(): void {
    this.pending = true;
    this.waiter?.();
  }

  private async listenLoop(signal: AbortSignal): Promise<void> {
    for (let failures = 0; !signal.aborted;) {
      try {
        await this.listenOnce(signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        this.options.metrics.listenReconnect();
        const delay = backoffDelay(failures, { baseDelayMs: this.options.backoffInitialMs, maxDelayMs: this.options.backoffMaxMs });
        if (failures === 1 || failures % 10 === 0) {
          this.options.logger?.warn(`outbox relay: LISTEN connection lost (${errorMessage(error)}); reconnecting in ${delay} ms, polling meanwhile`);
        }
        await sleep(delay, signal);
      }
    }
  }

  /** Connects, listens and returns only when stopping; throws when the connection drops. */
  private async listenOnce(signal: AbortSignal): Promise<void> {
    const name = this.postgres.clientConfig().application_name ?? 'conveyor';
    const client = await this.postgres.connect({ application_name: `${name} outbox-listen` });
    this.client = client;
    let dropped!: (error: Error) => void;
    const lost = new Promise<never>((_, reject) => (dropped = reject));
    lost.catch(() => undefined);
    client.on('error', (error) => dropped(error));
    client.on('end', () => dropped(new Error('connection ended')));
    client.on('notification', (message: Notification) => {
      if (message.channel === OUTBOX_CHANNEL && this.options.destinations.includes(message.payload as 'kafka' | 'rabbitmq')) this.wake();
    });
    try {
      await Promise.race([client.query(`LISTEN ${OUTBOX_CHANNEL}`), lost]);
      const [{ pid }] = (await Promise.race([client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'), lost])).rows;
      this.listenerPid = pid;
      // Rows may have been committed while nobody listened (before the first
      // connect, or while this connection was down): look once.
      this.wake();
      while (!signal.aborted) {
        // A heartbeat: a connection whose peer vanished without a FIN would
        // otherwise look alive until TCP gives up, minutes later.
        await Promise.race([sleep(this.options.heartbeatMs, signal), lost]);
        if (signal.aborted) break;
        await Promise.race([withTimeout(client.query('SELECT 1'), this.options.heartbeatMs, 'LISTEN heartbeat timed out'), lost]);
      }
    } finally {
      this.listenerPid = undefined;
      if (this.client === client) this.client = undefined;
      await client.end().catch(() => undefined);
    }
  }
}
