import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** What a test token may say; anything left out is a valid, ordinary user token. */
export interface TestTokenClaims {
  sub?: string;
  roles?: string[];
  /** The `scope` claim (space-separated), as an identity provider grants it. */
  scope?: string;
  /** The `client_id` claim; equal to `sub`, the token is a service identity's (client credentials, RFC 9068). */
  clientId?: string;
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative for an expired token. */
  expiresInS?: number;
  /** Seconds from now until the token becomes valid. */
  notBeforeInS?: number;
  /** Sign with another key than the one the JWKS holds (same key id), as a forger would. */
  foreignKey?: boolean;
  alg?: 'ES256' | 'RS256';
}

/** A key pair of the test's own, its public half as a JWKS file, and a signer of tokens. */
export interface TestTokens {
  /** AUTH_* variables that make a service trust these tokens (and only these). */
  readonly env: { AUTH_JWKS_FILE: string; AUTH_ISSUER: string; AUTH_AUDIENCE: string };
  readonly jwksFile: string;
  readonly jwks: { keys: Record<string, unknown>[] };
  sign(claims?: TestTokenClaims): Promise<string>;
  /** `{ authorization: 'Bearer …' }` for an ordinary user. */
  asUser(id: string): Promise<{ authorization: string }>;
  /** `{ authorization: 'Bearer …' }` for an admin. */
  asAdmin(id?: string): Promise<{ authorization: string }>;
  /** `{ authorization: 'Bearer …' }` for a service identity: a client-credentials token of `clientId` granted `scopes`. */
  asService(clientId: string, ...scopes: string[]): Promise<{ authorization: string }>;
}

export const TEST_ISSUER = 'conveyor-test';
export const TEST_AUDIENCE = 'conveyor';

/**
 * Generates an ES256 and an RS256 key pair, writes their public JWKS to a
 * temporary file and signs tokens with them: a service started with `env`
 * verifies exactly what a real identity provider's tokens would go through.
 */
export async function createTestTokens(): Promise<TestTokens> {
  const pairs = { ES256: await generateKeyPair('ES256', { extractable: true }), RS256: await generateKeyPair('RS256', { extractable: true }) };
  const foreign = { ES256: await generateKeyPair('ES256'), RS256: await generateKeyPair('RS256') };
  const keys = await Promise.all(
    (['ES256', 'RS256'] as const).map(async (alg) => ({ ...(await exportJWK(pairs[alg].publicKey)), kid: `test-${alg.toLowerCase()}`, alg, use: 'sig' })),
  );
  const jwks = { keys };
  const jwksFile = path.join(mkdtempSync(path.join(tmpdir(), 'conveyor-jwks-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(jwks));

  const sign = async (claims: TestTokenClaims = {}): Promise<string> => {
    const alg = claims.alg ?? 'ES256';
    const now = Math.floor(Date.now() / 1000);
    const key: KeyLike = (claims.foreignKey ? foreign : pairs)[alg].privateKey;
    const service = claims.clientId !== undefined && claims.clientId === claims.sub;
    const jwt = new SignJWT({
      ...(claims.roles !== undefined || !service ? { roles: claims.roles ?? ['user'] } : {}),
      ...(claims.clientId !== undefined ? { client_id: claims.clientId } : {}),
      ...(claims.scope !== undefined ? { scope: claims.scope } : {}),
    })
      .setProtectedHeader({ alg, kid: `test-${alg.toLowerCase()}`, typ: 'JWT' })
      .setIssuer(claims.issuer ?? TEST_ISSUER)
      .setAudience(claims.audience ?? TEST_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + (claims.expiresInS ?? 300));
    if (claims.sub !== '') jwt.setSubject(claims.sub ?? 'user-1');
    if (claims.notBeforeInS !== undefined) jwt.setNotBefore(now + claims.notBeforeInS);
    return jwt.sign(key);
  };

  return {
    env: { AUTH_JWKS_FILE: jwksFile, AUTH_ISSUER: TEST_ISSUER, AUTH_AUDIENCE: TEST_AUDIENCE },
    jwksFile,
    jwks,
    sign,
    asUser: async (id) => ({ authorization: `Bearer ${await sign({ sub: id, roles: ['user'] })}` }),
    asAdmin: async (id = 'admin-1') => ({ authorization: `Bearer ${await sign({ sub: id, roles: ['admin'] })}` }),
    asService: async (clientId, ...scopes) => ({ authorization: `Bearer ${await sign({ sub: clientId, clientId, scope: scopes.join(' ') })}` }),
  };
}

let shared: Promise<TestTokens> | undefined;

/**
 * The key pair of this test file, made on first use: the service processes it
 * starts trust its JWKS (`(await sharedTestTokens()).env`), and `asUser` and
 * `asAdmin` below sign with it. Jest gives each test file a module registry of
 * its own, so two files never share one.
 */
export const sharedTestTokens = (): Promise<TestTokens> => (shared ??= createTestTokens());

/** `Authorization` for an ordinary user, signed with {@link sharedTestTokens}. */
export const asUser = async (userId: string): Promise<{ authorization: string }> => (await sharedTestTokens()).asUser(userId);

/** `Authorization` for an admin (`test-admin`), signed with {@link sharedTestTokens}. */
export const asAdmin = async (): Promise<{ authorization: string }> => (await sharedTestTokens()).asAdmin('test-admin');

/** `Authorization` for a service identity (client credentials of `clientId`, granted `scopes`), signed with {@link sharedTestTokens}. */
export const asService = async (clientId: string, ...scopes: string[]): Promise<{ authorization: string }> =>
  (await sharedTestTokens()).asService(clientId, ...scopes);
