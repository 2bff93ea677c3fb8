import { createTestDatabase, runServiceExpectingExit, type ServiceProcess } from '@conveyor/testing';
import { Client } from 'pg';
import { metricValue, startNotificationStack, type NotificationStack } from './support/notification-stack';

describe('notification service: health and migrations', () => {
  let stack: NotificationStack;
  let service: ServiceProcess;

  beforeAll(async () => {
    stack = await startNotificationStack();
    service = stack.service;
  }, 90_000);

  afterAll(() => stack?.stop());

  it('When it has started, then /health/ready answers 200 and /metrics serves the breaker state of each channel', async () => {
    const ready = await fetch(`${service.url}/health/ready`);
    expect(ready.status).toBe(200);
    await expect(ready.json()).resolves.toMatchObject({ status: 'ok' });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toContain('http_server_request_duration_seconds');
    await expect(metricValue(service.url, 'circuit_breaker_state', 'downstream="sms"')).resolves.toBe(0);
    await expect(metricValue(service.url, 'circuit_breaker_state', 'downstream="push"')).resolves.toBe(0);
  });

  it('When the migrate entry (the chart Job) runs twice on an empty database, then it applies each migration once and exits 0', async () => {
    const fresh = await createTestDatabase('notification_migrate');
    const sql = new Client({ host: fresh.host, port: fresh.port, user: fresh.username, password: fresh.password, database: fresh.database });
    try {
      const env = { POSTGRES_DB: fresh.database, OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' };
      await expect(runServiceExpectingExit('services/notification/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await expect(runServiceExpectingExit('services/notification/src/migrate.ts', env)).resolves.toMatchObject({ code: 0 });
      await sql.connect();
      const { rows } = await sql.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toContain('InitialSchema1796077812475');
      expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
      await expect(sql.query('SELECT count(*) FROM notifications')).resolves.toBeDefined();
    } finally {
      await sql.end().catch(() => undefined);
      await fresh.drop();
    }
  });
});
