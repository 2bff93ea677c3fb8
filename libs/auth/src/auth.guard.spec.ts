import { parseEnv, authEnv } from '@conveyor/config';
import { PROBLEM_CONTENT_TYPE, ProblemDetailsModule } from '@conveyor/http';
import { createTestTokens, type TestTokens } from '@conveyor/testing';
import { Controller, Get, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SignJWT, UnsecuredJWT } from 'jose';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { AuthModule, CurrentUser, Public, RequireScope, Roles, TokenVerifier, type AuthUser } from './index';

@Controller()
class ThingsController {
  @Public()
  @Get('catalog')
  catalog() {
    return { open: true };
  }

  @Get('me')
  me(@CurrentUser() user: AuthUser) {
    return user;
  }

  @Roles('admin')
  @Post('prices')
  changePrices(@CurrentUser() user: AuthUser) {
    return { changedBy: user.id };
  }

  @RequireScope('points:activities')
  @Post('completions')
  complete(@CurrentUser() caller: AuthUser) {
    return { by: caller.id, kind: caller.kind };
  }
}

async function startApp(env: Record<string, string>): Promise<NestFastifyApplication> {
  const config = parseEnv('test', authEnv, env);
  @Module({ imports: [ProblemDetailsModule, AuthModule.forRoot(config)], controllers: [ThingsController] })
  class TestModule {}
  const app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('AuthGuard', () => {
  let tokens: TestTokens;
  let app: NestFastifyApplication;
  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });

  beforeAll(async () => {
    tokens = await createTestTokens();
    app = await startApp({ ...tokens.env, AUTH_CLOCK_SKEW_S: '30' });
  });
  afterAll(() => app.close());

  const expectRejected = async (token: string, reason: string) => {
    const res = await get('/me', bearer(token));
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="conveyor", error="invalid_token"/);
    expect(res.json()).toMatchObject({ status: 401, code: 'AUTH.TOKEN_INVALID', reason });
  };

  it('When a request has no token, then 401 AUTH.TOKEN_MISSING as problem+json with WWW-Authenticate', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwdw==' }, { authorization: 'Bearer' }] as Record<string, string>[]) {
      const res = await get('/me', headers);
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="conveyor"');
      expect(res.json()).toMatchObject({ code: 'AUTH.TOKEN_MISSING', status: 401 });
    }
  });

  it('When the token is valid, then the handler gets its subject and roles', async () => {
    for (const alg of ['ES256', 'RS256'] as const) {
      const res = await get('/me', bearer(await tokens.sign({ sub: 'u-42', alg })));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ id: 'u-42', kind: 'user', roles: ['user'], scopes: [] });
    }
  });

  it('When the token has expired beyond the clock skew, then 401 with reason expired', async () => {
    await expectRejected(await tokens.sign({ expiresInS: -31 - 5 }), 'expired');
  });

  it('When the token expired within the allowed clock skew, then it is still accepted', async () => {
    expect((await get('/me', bearer(await tokens.sign({ expiresInS: -10 })))).statusCode).toBe(200);
  });

  it('When the token is not valid yet beyond the clock skew, then 401 with reason not-yet-valid', async () => {
    await expectRejected(await tokens.sign({ notBeforeInS: 120 }), 'not-yet-valid');
  });

  it('When the token is for another audience, then 401 with reason wrong-audience', async () => {
    await expectRejected(await tokens.sign({ audience: 'some-other-api' }), 'wrong-audience');
  });

  it('When the token comes from another issuer, then 401 with reason wrong-issuer', async () => {
    await expectRejected(await tokens.sign({ issuer: 'https://evil.example.test' }), 'wrong-issuer');
  });

  it('When the token is signed by a key the JWKS does not hold, then 401 with reason untrusted-key', async () => {
    await expectRejected(await tokens.sign({ foreignKey: true }), 'untrusted-key');
    await expectRejected(await tokens.sign({ foreignKey: true, alg: 'RS256' }), 'untrusted-key');
  });

  it('When the token is unsigned, HMAC-signed or garbage, then 401 with reason malformed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u-1', roles: ['admin'] };
    const unsecured = new UnsecuredJWT(claims)
      .setIssuer('conveyor-test')
      .setAudience('conveyor')
      .setExpirationTime(now + 60)
      .encode();
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('conveyor-test')
      .setAudience('conveyor')
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode('a-shared-secret-anyone-could-guess'));
    for (const token of [unsecured, hmac, 'not.a.jwt', 'x']) await expectRejected(token, 'malformed');
  });

  it('When the token has no usable subject (none, too long, control characters), then 401 with reason bad-claims', async () => {
    await expectRejected(await tokens.sign({ sub: '' }), 'bad-claims');
    await expectRejected(await tokens.sign({ sub: 'u'.repeat(65) }), 'bad-claims');
    await expectRejected(await tokens.sign({ sub: 'u-\u0000-1' }), 'bad-claims');
  });

  it('When a user token calls an admin route, then 403 AUTH.FORBIDDEN', async () => {
    const res = await app.inject({ method: 'POST', url: '/prices', headers: await tokens.asUser('u-1') });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
    expect(res.json()).toMatchObject({ code: 'AUTH.FORBIDDEN', status: 403, requiredRoles: ['admin'] });
  });

  it('When an admin token calls an admin route, then it passes; without a token it is 401, not 403', async () => {
    const admin = await app.inject({ method: 'POST', url: '/prices', headers: await tokens.asAdmin('ops-1') });
    expect(admin.statusCode).toBe(201);
    expect(admin.json()).toEqual({ changedBy: 'ops-1' });
    expect((await app.inject({ method: 'POST', url: '/prices' })).statusCode).toBe(401);
  });

  it('When a role in the token is unknown, then it grants nothing', async () => {
    const res = await app.inject({ method: 'POST', url: '/prices', headers: bearer(await tokens.sign({ roles: ['superuser', 'user'] })) });
    expect(res.statusCode).toBe(403);
  });

  it('When a service identity with the scope calls a @RequireScope route, then it passes as that client', async () => {
    const res = await app.inject({ method: 'POST', url: '/completions', headers: await tokens.asService('lessons', 'other:scope', 'points:activities') });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ by: 'lessons', kind: 'service' });
  });

  it('When a user token calls a @RequireScope route, even an admin or one carrying the scope, then 403 AUTH.INSUFFICIENT_SCOPE', async () => {
    const userWithScope = bearer(await tokens.sign({ sub: 'u-1', scope: 'points:activities' }));
    const userOfAnotherClient = bearer(await tokens.sign({ sub: 'u-1', clientId: 'web-app', scope: 'points:activities' }));
    for (const headers of [await tokens.asUser('u-1'), await tokens.asAdmin('ops-1'), userWithScope, userOfAnotherClient]) {
      const res = await app.inject({ method: 'POST', url: '/completions', headers });
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toContain(PROBLEM_CONTENT_TYPE);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="conveyor", error="insufficient_scope", scope="points:activities"');
      expect(res.json()).toMatchObject({ status: 403, code: 'AUTH.INSUFFICIENT_SCOPE', requiredScopes: ['points:activities'] });
    }
  });

  it('When a service identity lacks the scope, then 403 AUTH.INSUFFICIENT_SCOPE; without a token it is 401', async () => {
    const res = await app.inject({ method: 'POST', url: '/completions', headers: await tokens.asService('lessons', 'points:read') });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'AUTH.INSUFFICIENT_SCOPE' });
    expect((await app.inject({ method: 'POST', url: '/completions' })).statusCode).toBe(401);
  });

  it('When a service identity calls a user route or an admin route, then 403 AUTH.FORBIDDEN: it is no user, whatever roles it claims', async () => {
    const service = await tokens.asService('lessons', 'points:activities');
    const me = await get('/me', service);
    expect(me.statusCode).toBe(403);
    expect(me.json()).toMatchObject({ code: 'AUTH.FORBIDDEN', requiredRoles: ['user'] });
    const claimingAdmin = bearer(await tokens.sign({ sub: 'lessons', clientId: 'lessons', roles: ['admin'] }));
    const prices = await app.inject({ method: 'POST', url: '/prices', headers: claimingAdmin });
    expect(prices.statusCode).toBe(403);
    expect(prices.json()).toMatchObject({ code: 'AUTH.FORBIDDEN', requiredRoles: ['admin'] });
  });

  it('When a route is public, then it answers without a token, and a bad token does not matter there', async () => {
    expect((await get('/catalog')).statusCode).toBe(200);
    expect((await get('/catalog', bearer('garbage'))).statusCode).toBe(200);
  });
});

describe('TokenVerifier key sources', () => {
  let tokens: TestTokens;
  let server: Server;
  let jwksUrl: string;
  let servedStatus = 200;

  beforeAll(async () => {
    tokens = await createTestTokens();
    server = createServer((_req, res) => {
      res.writeHead(servedStatus, { 'content-type': 'application/json' }).end(JSON.stringify(tokens.jwks));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    jwksUrl = `http://127.0.0.1:${address.port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const verifierFor = (env: Record<string, string>) => new TokenVerifier(parseEnv('test', authEnv, { ...tokens.env, ...env }));

  it('When the JWKS comes from a URL, then tokens are verified against the keys served there', async () => {
    servedStatus = 200;
    await expect(verifierFor({ AUTH_JWKS_URL: jwksUrl }).verify(await tokens.sign({ sub: 'u-7' }))).resolves.toEqual({
      id: 'u-7',
      kind: 'user',
      roles: ['user'],
      scopes: [],
    });
  });

  it('When the JWKS URL fails, then the answer is 503 AUTH.KEYS_UNAVAILABLE, not a rejected token', async () => {
    servedStatus = 500;
    await expect(verifierFor({ AUTH_JWKS_URL: jwksUrl }).verify(await tokens.sign())).rejects.toMatchObject({
      code: 'AUTH.KEYS_UNAVAILABLE',
      kind: 'unavailable',
    });
  });

  it('When the JWKS file is missing, empty or holds a private key, then the verifier refuses to start', async () => {
    expect(() => verifierFor({ AUTH_JWKS_FILE: `${tokens.jwksFile}.absent` })).toThrow(/not a readable JSON Web Key Set/);
    const bad = `${tokens.jwksFile}.bad.json`;
    writeFileSync(bad, JSON.stringify({ keys: [] }));
    expect(() => verifierFor({ AUTH_JWKS_FILE: bad })).toThrow(/holds no keys/);
    writeFileSync(bad, JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'secret' }] }));
    expect(() => verifierFor({ AUTH_JWKS_FILE: bad })).toThrow(/holds a private key/);
  });
});
