import { bootstrapService } from '@conveyor/chassis';
import type { Telemetry } from '@conveyor/telemetry';
import { overrideProviders } from '@conveyor/testing';
import type { Provider } from '@nestjs/common';
import { appModule } from '../../src/app.module';
import { config } from '../../src/config';

/**
 * Starts the order service as src/main.ts does, with some providers replaced:
 * a benchmark's variant lives here, never behind a switch in src/.
 */
export async function startOrderWith(telemetry: Telemetry, overrides: Provider[]): Promise<void> {
  await bootstrapService(overrideProviders(appModule(config, telemetry), overrides), config);
}
