import { ChassisModule } from '@conveyor/chassis';
import type { Telemetry } from '@conveyor/telemetry';
import type { DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module';
import { SERVICE_NAME, type ProviderSimConfig } from './config';
import { MessagesModule } from './messages/messages.module';
import { PaymentsModule } from './payments/payments.module';
import { SettlementsModule } from './settlements/settlements.module';

/** provider-sim keeps its state in memory and calls nothing: the heap is all that can make it unready. */
export const appModule = (config: ProviderSimConfig, telemetry: Telemetry): DynamicModule =>
  ChassisModule.forRoot({
    serviceName: SERVICE_NAME,
    config,
    telemetry,
    heapLimitBytes: config.PROVIDER_SIM_HEAP_LIMIT_BYTES,
    // It stands in for outside partners (payment, SMS, push gateways), whose
    // APIs our tokens do not open; its admin API is off unless PROVIDER_SIM_ADMIN.
    auth: 'none',
    openApi: { title: 'Conveyor provider-sim', description: 'Payment, SMS and push gateways for demos and tests (docs/provider-sim.md).' },
    features: [PaymentsModule, SettlementsModule, MessagesModule, ...(config.PROVIDER_SIM_ADMIN ? [AdminModule] : [])],
  });
