export { ROLES, type AuthUser, type CallerKind, type RateLimitRule, type Role } from './types';
export {
  AuthKeysUnavailableError,
  ForbiddenError,
  InsufficientScopeError,
  RateLimitBudgetSpentError,
  RateLimitedError,
  TokenInvalidError,
  TokenMissingError,
  type TokenRejection,
} from './auth.errors';
export { TOKEN_ALGORITHMS, TokenVerifier, type AuthConfig, type RequestWithHeaders } from './token-verifier';
export { CurrentUser, RequireScope, Roles, type AuthenticatedRequest } from './auth.decorators';
/** Re-exported: the decorator lives in libs/http so that libs serving open routes can use it. */
export { Public } from '@conveyor/http';
export { AuthGuard } from './auth.guard';
export { AuthModule } from './auth.module';
export { RateLimit, RateLimitGuard, RateLimitModule, RateLimiter } from './rate-limit';
export { fastifyServerOptions, hardenHttp, type HttpLimitsConfig } from './http-hardening';
