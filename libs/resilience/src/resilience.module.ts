import { Inject, Logger, Module, type DynamicModule, type InjectionToken, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { MetricsRegistry } from '@conveyor/telemetry';
import { createResilientHttpClient, ResilientHttpClient } from './resilient-http-client';
import type { ResilientHttpClientOptions } from './types';

/** One client to register: its token, and how to build its options (usually from the injected config). */
export interface ResilientClientDefinition {
  provide: InjectionToken;
  inject?: InjectionToken[];
  /** Options without metrics/logger: the module supplies the app's MetricsRegistry and logger. */
  useFactory: (...deps: never[]) => Omit<ResilientHttpClientOptions, 'metrics' | 'logger'>;
}

const CLIENTS = Symbol('RESILIENT_CLIENTS');

/** Closes every client of the module when the app shuts down. */
class ClientsShutdown implements OnApplicationShutdown {
  constructor(@Inject(CLIENTS) private readonly clients: ResilientHttpClient[]) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }
}

/**
 * Optional Nest wiring of {@link createResilientHttpClient}: each client gets the
 * app's MetricsRegistry (if MetricsModule is loaded) and logger, and is closed
 * on shutdown.
 *
 *   ResilienceModule.forClients([{ provide: PAYMENTS_CLIENT, inject: [APP_CONFIG],
 *     useFactory: (config) => clientOptionsFromEnv('PAYMENTS', 'payments', config) }])
 */
@Module({})
export class ResilienceModule {
  static forClients(definitions: ResilientClientDefinition[]): DynamicModule {
    const clientProviders: Provider[] = definitions.map((definition) => ({
      provide: definition.provide,
      inject: [{ token: MetricsRegistry, optional: true }, ...(definition.inject ?? [])],
      useFactory: (metrics: MetricsRegistry | undefined, ...deps: never[]) =>
        createResilientHttpClient({ ...definition.useFactory(...deps), metrics, logger: new Logger('Resilience') }),
    }));
    return {
      module: ResilienceModule,
      providers: [
        ...clientProviders,
        { provide: CLIENTS, inject: definitions.map((d) => d.provide), useFactory: (...clients: ResilientHttpClient[]) => clients },
        ClientsShutdown,
      ],
      exports: definitions.map((d) => d.provide),
    };
  }
}
