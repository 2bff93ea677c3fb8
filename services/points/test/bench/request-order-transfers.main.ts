// `make bench-counters`'s anti-pattern: the points service locking a transfer's accounts in request order.
import { telemetry } from '../../src/instrument';
import { bootstrapService } from '@conveyor/chassis';
import { overrideProviders } from '@conveyor/testing';
import { appModule } from '../../src/app.module';
import { config } from '../../src/config';
import { AccountRepository } from '../../src/points/account.repository';
import { RequestOrderAccountRepository } from './request-order-transfers';

void bootstrapService(overrideProviders(appModule(config, telemetry), [{ provide: AccountRepository, useClass: RequestOrderAccountRepository }]), config);
