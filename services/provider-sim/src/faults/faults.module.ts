import { Module } from '@nestjs/common';
import { FaultHooks } from './fault-hooks.service';
import { FaultsRepository } from './faults.repository';

/**
 * The fault machinery: the faults in force and the Fastify hooks that apply
 * them. Imported only by the admin module (PROVIDER_SIM_ADMIN=true): without
 * it no fault hook runs on any request.
 */
@Module({ providers: [FaultsRepository, FaultHooks], exports: [FaultsRepository] })
export class FaultsModule {}
