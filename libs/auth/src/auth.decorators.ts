import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { TokenMissingError } from './auth.errors';
import type { AuthUser, Role } from './types';

export const REQUIRED_ROLES = 'conveyor:auth:roles';
export const REQUIRED_SCOPES = 'conveyor:auth:scopes';

/** Restricts a route (or controller) to users holding one of `roles`; others get 403 AUTH.FORBIDDEN (documented in the OpenAPI document). */
export const Roles = (...roles: [Role, ...Role[]]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(REQUIRED_ROLES, roles), ApiExtension('x-required-roles', roles));

/**
 * Opens a route (or controller) to service identities only: client-credentials
 * tokens (`sub` = `client_id`) granted every one of `scopes`. An end user's
 * token is refused whatever it carries, with 403 AUTH.INSUFFICIENT_SCOPE (as
 * is a service without the scope); documented in the OpenAPI document
 * (`security: [{ bearer: scopes }]` and the 403).
 */
export const RequireScope = (...scopes: [string, ...string[]]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(REQUIRED_SCOPES, scopes), ApiExtension('x-required-scopes', scopes));

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
