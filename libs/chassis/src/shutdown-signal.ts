import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/** Aborted when the application begins to shut down: background loops started outside Nest's lifecycle stop on it. */
@Injectable()
export class ShutdownSignal implements BeforeApplicationShutdown {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;

  beforeApplicationShutdown(): void {
    this.controller.abort();
  }
}
