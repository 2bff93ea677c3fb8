// The first import of main.ts: tracing must patch modules before they load.
import { startServiceTelemetry } from '@conveyor/telemetry';
import { config, SERVICE_NAME } from './config';

export const telemetry = startServiceTelemetry(SERVICE_NAME, config);
