import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IS_PUBLIC_ROUTE } from '@conveyor/http';
import { REQUIRED_ROLES, REQUIRED_SCOPES, type AuthenticatedRequest } from './auth.decorators';
import { ForbiddenError, InsufficientScopeError } from './auth.errors';
import { TokenVerifier, type RequestWithHeaders } from './token-verifier';
import type { Role } from './types';

/**
 * The app-wide guard: every route needs a valid bearer token unless it is
 * marked `@Public()`; `@Roles(...)` narrows it further. Closed by default, so a
 * new route is never open by accident. The two kinds of caller never cross:
 * a `@RequireScope(...)` route takes only service identities holding the
 * scopes, and every other route takes only users (a service identity there is
 * 403 AUTH.FORBIDDEN: it is no user, whatever its subject looks like).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true; // message consumers are not HTTP callers
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<RequestWithHeaders & AuthenticatedRequest>();
    const user = await this.verifier.authenticate(request);
    request.user = user;
    const scopes = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES, targets);
    if (scopes) {
      if (user.kind !== 'service' || !scopes.every((scope) => user.scopes.includes(scope))) throw new InsufficientScopeError(scopes);
      return true;
    }
    const required = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, targets);
    if (user.kind !== 'user') throw new ForbiddenError(required ?? ['user']);
    if (required && !required.some((role) => user.roles.includes(role))) throw new ForbiddenError(required);
    return true;
  }
}
