import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { TokenMissingError } from './auth.errors';
import type { AuthUser, Role } from './types';

export const IS_PUBLIC = 'conveyor:auth:public';
export const REQUIRED_ROLES = 'conveyor:auth:roles';

/** Opens a route (or every route of a controller) to callers without a token: health, metrics, public reads. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Restricts a route (or controller) to users holding one of `roles`; others get 403 AUTH.FORBIDDEN. */
export const Roles = (...roles: [Role, ...Role[]]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLES, roles);

/** Where the guard leaves the verified user on the request. */
export interface AuthenticatedRequest {
  user?: AuthUser;
}

/**
 * The verified caller of the request (set by the guard). On a `@Public()`
 * route there is none, and asking for it is answered 401.
 */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthUser => {
  const user = context.switchToHttp().getRequest<AuthenticatedRequest>().user;
  if (user === undefined) throw new TokenMissingError();
  return user;
});
