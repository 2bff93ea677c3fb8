import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { readFileSync } from 'node:fs';
import { asAdmin, asService, asUser, sharedTestTokens, TEST_AUDIENCE, TEST_ISSUER } from './auth-tokens';

describe('sharedTestTokens', () => {
  const claims = async ({ authorization }: { authorization: string }) => {
    // The file a service is pointed at (AUTH_JWKS_FILE), as the service would read it.
    const jwks = JSON.parse(readFileSync((await sharedTestTokens()).env.AUTH_JWKS_FILE, 'utf8')) as JSONWebKeySet;
    const { payload } = await jwtVerify(authorization.replace(/^Bearer /, ''), createLocalJWKSet(jwks), { issuer: TEST_ISSUER, audience: TEST_AUDIENCE });
    return payload;
  };

  it('When asked twice, then it is the same key pair', () => {
    expect(sharedTestTokens()).toBe(sharedTestTokens());
  });

  it('When asUser and asAdmin sign, then their tokens verify against the shared JWKS, as that user and as test-admin', async () => {
    await expect(claims(await asUser('u-7'))).resolves.toMatchObject({ sub: 'u-7', roles: ['user'] });
    await expect(claims(await asAdmin())).resolves.toMatchObject({ sub: 'test-admin', roles: ['admin'] });
  });

  it('When asService signs, then the token is a client-credentials one: sub and client_id are the client, the scopes in scope, no roles', async () => {
    const payload = await claims(await asService('lessons', 'points:activities', 'other:scope'));
    expect(payload).toMatchObject({ sub: 'lessons', client_id: 'lessons', scope: 'points:activities other:scope' });
    expect(payload).not.toHaveProperty('roles');
  });
});
