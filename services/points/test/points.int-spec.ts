import { runServiceExpectingExit, createTestDatabase } from '@conveyor/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { asUser, PROBLEM_JSON, startPointsStack, type PointsStack } from './support/points-stack';

jest.setTimeout(60_000);

describe('points service', () => {
  let stack: PointsStack;

  beforeAll(async () => {
    stack = await startPointsStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('When it has started, then /health/ready answers 200 and /metrics serves Prometheus text', async () => {
    const ready = await fetch(`${stack.service.url}/health/ready`);
    expect(ready.status).toBe(200);
    await expect(ready.json()).resolves.toMatchObject({ status: 'ok' });
    const metrics = await fetch(`${stack.service.url}/metrics`);
    expect(metrics.status).toBe(200);
    await expect(metrics.text()).resolves.toContain('http_server_request_duration_seconds');
  });

  it('When a route is called without a token, then 401 AUTH.TOKEN_MISSING as problem+json', async () => {
    for (const [method, path] of [
      ['GET', '/users/u-1/points'],
      ['POST', '/users/u-1/points/redemptions'],
      ['POST', '/activities/lesson-1/completions'],
    ]) {
      const res = await fetch(`${stack.service.url}${path}`, { method });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain(PROBLEM_JSON);
      await expect(res.json()).resolves.toMatchObject({ code: 'AUTH.TOKEN_MISSING' });
    }
  });

  it('When /openapi.json is asked, then it describes every points route, the Idempotency-Key and the problems', async () => {
    const res = await fetch(`${stack.service.url}/openapi.json`);
    expect(res.status).toBe(200);
    const document = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, unknown> }>>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.paths['/users/{id}/points']).toHaveProperty('get');
    expect(document.paths['/users/{id}/points/ledger']).toHaveProperty('get');
    expect(document.paths['/activities/{activityId}/completions']).toHaveProperty('post');
    const redeem = document.paths['/users/{id}/points/redemptions'].post;
    expect(redeem.parameters?.map((p) => p.name)).toContain('Idempotency-Key');
    expect(Object.keys(redeem.responses)).toEqual(expect.arrayContaining(['201', '400', '404', '409', '422']));
    expect(Object.keys(document.paths['/users/{id}/points/transfers'].post.responses)).toEqual(expect.arrayContaining(['201', '409', '422']));
    // Completions are a service identity's: the bearer scheme with its scope, 401, 403 (a user's token) and the daily cap's 429.
    const completions = document.paths['/activities/{activityId}/completions'].post as {
      security?: unknown;
      responses: Record<string, { description?: string }>;
    };
    expect(completions.security).toEqual([{ bearer: ['points:activities'] }]);
    expect(Object.keys(completions.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403', '429']));
    expect(completions.responses['403'].description).toContain('AUTH.INSUFFICIENT_SCOPE');
    expect(redeem.responses['403']).toMatchObject({ description: expect.stringContaining('AUTH.FORBIDDEN') });
  });

  it('When a user id in the path is too long, then 400 REQUEST.VALIDATION_FAILED', async () => {
    const res = await fetch(`${stack.service.url}/users/${'x'.repeat(65)}/points`, { headers: await asUser('x'.repeat(64)) });
    expect(res.status).toBe(400);
    await expect(res.json()).resolves.toMatchObject({ code: 'REQUEST.VALIDATION_FAILED' });
  });

  it('When the ledger is written to other than by appending, then PostgreSQL refuses it', async () => {
    const user = `u-${randomUUID()}`;
    await stack.sql.query('INSERT INTO accounts (user_id, balance) VALUES ($1, 5)', [user]);
    await stack.sql.query(`INSERT INTO ledger (user_id, kind, reason, source_id, amount, balance_after) VALUES ($1, 'earn', 'test', 't', 5, 5)`, [user]);
    await expect(stack.sql.query('UPDATE ledger SET amount = 50 WHERE user_id = $1', [user])).rejects.toThrow(/append-only/);
    await expect(stack.sql.query('DELETE FROM ledger WHERE user_id = $1', [user])).rejects.toThrow(/append-only/);
  });

  it('When the migrate entry (the chart Job) runs twice on an empty database, then it applies each migration once and exits 0', async () => {
    const fresh = await createTestDatabase('points_migrate');
    const sql = new Client({ host: fresh.host, port: fresh.port, user: fresh.username, password: fresh.password, database: fresh.database });
    try {
      const env = { POSTGRES_DB: fresh.database, OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' };
      await expect(runServiceExpectingExit('services/points/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await expect(runServiceExpectingExit('services/points/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await sql.connect();
      const { rows } = await sql.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toContain('InitialSchema1796077810625');
      expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
      await expect(sql.query('SELECT count(*) FROM accounts')).resolves.toBeDefined();
    } finally {
      await sql.end().catch(() => undefined);
      await fresh.drop();
    }
  });
});
