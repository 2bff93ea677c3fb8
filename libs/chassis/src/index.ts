export { bootstrapService, type HttpServerConfig } from './bootstrap-service';
export { ChassisModule, type ChassisConfig, type ChassisOptions } from './chassis.module';
export { READINESS_PROBES, type ReadinessProbe } from './health/readiness';
export { ShutdownSignal } from './shutdown-signal';
