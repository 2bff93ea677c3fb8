import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard';
import { TokenVerifier, type AuthConfig } from './token-verifier';

/**
 * Token verification and the app-wide {@link AuthGuard}: import it once in the
 * root module and every route needs a token unless marked `@Public()`.
 */
@Module({})
export class AuthModule {
  static forRoot(config: AuthConfig): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      providers: [
        { provide: TokenVerifier, useFactory: () => new TokenVerifier(config) },
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [TokenVerifier],
    };
  }
}
