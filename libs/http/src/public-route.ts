import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

/** Metadata key of {@link Public}; the auth guard (libs/auth) reads it. */
export const IS_PUBLIC_ROUTE = 'conveyor:public-route';

/**
 * Opens a route (or every route of a controller) to callers without a token:
 * health, metrics, the OpenAPI document, public catalog reads. Everything else
 * needs one (libs/auth's guard is closed by default). It lives here, not in
 * libs/auth, so the libraries that serve such routes can mark them. The
 * OpenAPI document lists these operations without a security requirement.
 */
export const Public = (): MethodDecorator & ClassDecorator => applyDecorators(SetMetadata(IS_PUBLIC_ROUTE, true), ApiExtension('x-public', true));
