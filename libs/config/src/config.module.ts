import { DynamicModule, Global, Inject, Module } from '@nestjs/common';

/** Injection token for a service's validated configuration object. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Injects the configuration registered with {@link ConfigModule.register}. */
export const InjectConfig = (): ParameterDecorator => Inject(APP_CONFIG);

/** Makes a service's already-validated configuration injectable everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static register<T extends object>(config: T): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: Object.freeze(config) }],
      exports: [APP_CONFIG],
    };
  }
}
