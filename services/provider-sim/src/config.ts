import { envField, httpServerEnv, loadConfig, telemetryEnv } from '@conveyor/config';
import { z } from 'zod';

export const SERVICE_NAME = 'provider-sim';

/** Every knob of provider-sim, with its default (docs/configuration.md lists them). */
export const providerSimEnv = httpServerEnv(3100)
  .merge(telemetryEnv)
  .extend({
    /** The fault-injection and ledger admin API (`/_admin`) is off unless this is true. */
    PROVIDER_SIM_ADMIN: envField.bool(false),
    /** Readiness fails while the V8 heap is above this: the in-memory ledger has grown past what a demo should hold. */
    PROVIDER_SIM_HEAP_LIMIT_BYTES: envField.int(512 * 1024 * 1024, { min: 1 }),
  });

export type ProviderSimConfig = z.output<typeof providerSimEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: ProviderSimConfig = loadConfig(SERVICE_NAME, providerSimEnv);
