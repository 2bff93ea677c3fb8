import { telemetry } from './instrument';
import { bootstrapService } from '@conveyor/chassis';
import { appModule } from './app.module';
import { config } from './config';

void bootstrapService(appModule(config, telemetry), config);
