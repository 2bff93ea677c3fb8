import type { authEnv } from '@conveyor/config';
import { Logger } from '@nestjs/common';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AuthKeysUnavailableError, TokenInvalidError, TokenMissingError } from './auth.errors';
import { ROLES, type AuthUser, type Role } from './types';

/** The `AUTH_*` settings (libs/config `authEnv`). */
export type AuthConfig = z.output<typeof authEnv>;

/** Asymmetric algorithms only: a shared-secret (HS*) token or `alg: none` is refused whatever its keys. */
export const TOKEN_ALGORITHMS = ['ES256', 'RS256'];

/** The claims a verified token must carry besides iss, aud and exp. */
const tokenClaims = z.object({
  /** The user id; orders and idempotency keys are stored under it (64 characters at most, as there; no control characters, which PostgreSQL text may refuse). */
  sub: z
    .string()
    .min(1)
    .max(64)
    .regex(/^\P{Cc}*$/u),
  /** Unknown roles are ignored; a user token without the claim is an ordinary user. */
  roles: z.array(z.string()).optional(),
  /** RFC 9068: the client the token was issued to; equal to `sub` when no user is involved (client credentials). */
  client_id: z.string().optional(),
  /** RFC 9068 / RFC 8693: space-separated scopes. */
  scope: z.string().max(4_096).optional(),
});

/** The caller a token's claims describe: a service identity (sub = client_id) gets its scopes and no roles. */
function callerOf(claims: z.output<typeof tokenClaims>): AuthUser {
  const scopes = (claims.scope ?? '').split(' ').filter((scope) => scope.length > 0);
  if (claims.client_id !== undefined && claims.client_id === claims.sub) return { id: claims.sub, kind: 'service', roles: [], scopes };
  const roles = (claims.roles ?? ['user']).filter((role): role is Role => (ROLES as readonly string[]).includes(role));
  return { id: claims.sub, kind: 'user', roles, scopes };
}

/** A request as far as authentication cares: its headers. */
export interface RequestWithHeaders {
  headers: Record<string, string | string[] | undefined>;
}

function readKeySet(config: AuthConfig): JWTVerifyGetKey {
  if (config.AUTH_JWKS_URL) {
    return createRemoteJWKSet(new URL(config.AUTH_JWKS_URL), {
      timeoutDuration: config.AUTH_JWKS_TIMEOUT_MS,
      cacheMaxAge: config.AUTH_JWKS_CACHE_MS,
    });
  }
  let keySet: JSONWebKeySet;
  try {
    keySet = JSON.parse(readFileSync(config.AUTH_JWKS_FILE, 'utf8')) as JSONWebKeySet;
  } catch (error) {
    throw new Error(`AUTH_JWKS_FILE ${config.AUTH_JWKS_FILE} is not a readable JSON Web Key Set (locally: deploy/local/keys writes it)`, { cause: error });
  }
  if (!Array.isArray(keySet.keys) || keySet.keys.length === 0) throw new Error(`AUTH_JWKS_FILE ${config.AUTH_JWKS_FILE} holds no keys`);
  if (keySet.keys.some((key) => 'd' in key))
    throw new Error(`AUTH_JWKS_FILE ${config.AUTH_JWKS_FILE} holds a private key; give the services the public keys only`);
  return createLocalJWKSet(keySet);
}

/** Maps what jose refuses to a typed rejection; anything else means the keys could not be had. */
function rejection(error: unknown): TokenInvalidError | AuthKeysUnavailableError {
  if (error instanceof errors.JWTExpired) return new TokenInvalidError('expired', 'The token has expired.', error);
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return new TokenInvalidError('wrong-issuer', 'The token was not issued by the accepted issuer.', error);
    if (error.claim === 'aud') return new TokenInvalidError('wrong-audience', 'The token is not meant for this audience.', error);
    if (error.claim === 'nbf') return new TokenInvalidError('not-yet-valid', 'The token is not valid yet.', error);
    return new TokenInvalidError('bad-claims', `The token's ${error.claim} claim is not accepted.`, error);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenInvalidError('untrusted-key', 'The token is not signed by a trusted key.', error);
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JOSENotSupported ||
    error instanceof errors.JWKInvalid
  ) {
    return new TokenInvalidError('malformed', 'The token is malformed or uses an algorithm that is not accepted.', error);
  }
  return new AuthKeysUnavailableError(error);
}

/**
 * Checks bearer tokens: signature against the configured JWKS (asymmetric
 * algorithms only), issuer, audience, expiry and not-before within a bounded
 * clock skew, and a subject. One verification per request: the rate limiter
 * and the guard share its result.
 */
export class TokenVerifier {
  private readonly logger = new Logger('Auth');
  private readonly keySet: JWTVerifyGetKey;
  private readonly perRequest = new WeakMap<object, Promise<AuthUser>>();

  constructor(private readonly config: AuthConfig) {
    this.keySet = readKeySet(config);
  }

  /** Verifies one compact JWS and returns the caller it names (a user, or a service identity with its scopes). */
  async verify(token: string): Promise<AuthUser> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.keySet, {
        algorithms: TOKEN_ALGORITHMS,
        issuer: this.config.AUTH_ISSUER,
        audience: this.config.AUTH_AUDIENCE,
        clockTolerance: this.config.AUTH_CLOCK_SKEW_S,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      const refused = rejection(error);
      if (refused instanceof AuthKeysUnavailableError) this.logger.warn({ err: error }, 'token keys unavailable');
      throw refused;
    }
    const claims = tokenClaims.safeParse(payload);
    if (!claims.success) throw new TokenInvalidError('bad-claims', 'The token has no usable subject, roles or scopes.');
    return callerOf(claims.data);
  }

  /**
   * The user of a request, from its `Authorization: Bearer` header, verified
   * once per request object (later calls get the same answer).
   */
  authenticate(request: RequestWithHeaders): Promise<AuthUser> {
    let verified = this.perRequest.get(request);
    if (verified === undefined) {
      const header = request.headers['authorization'];
      const match = typeof header === 'string' ? /^Bearer +([^ ]+) *$/i.exec(header) : null;
      verified = match ? this.verify(match[1]) : Promise.reject(new TokenMissingError());
      // A rejection is read by whoever asks; this one is only there to be shared.
      verified.catch(() => undefined);
      this.perRequest.set(request, verified);
    }
    return verified;
  }
}
