import { withAdminClient } from '../src/postgres';
import { PROVIDER_SIM_ENTRY, startServiceStack } from '../src/service-stack';
import { TEST_RUN_ID } from '../src/unique-names';

/** startServiceStack against the real servers, with provider-sim (no database of its own) as the service and as an extra process. */
describe('startServiceStack (real processes and PostgreSQL)', () => {
  const databaseExists = (name: string): Promise<boolean> =>
    withAdminClient(async (admin) => (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);

  it('When a stack with an extra process and a database is started, then the service answers, gets the extra process in its env, and stop() ends both and drops the database', async () => {
    const stack = await startServiceStack({
      service: 'provider-sim',
      processes: { sim: { entry: PROVIDER_SIM_ENTRY, env: { PROVIDER_SIM_ADMIN: 'true' } } },
      env: (processes) => ({ PARTNER_URL: processes.sim.url }),
    });
    let stopped = false;
    try {
      expect(stack.env['PARTNER_URL']).toBe(stack.processes.sim.url);
      expect(stack.env['POSTGRES_DB']).toBe(stack.db.database);
      expect(stack.env['AUTH_JWKS_FILE']).toBe(stack.tokens.jwksFile);
      expect((await fetch(`${stack.service.url}/health/live`)).status).toBe(200);
      expect((await fetch(`${stack.processes.sim.url}/_admin/ledger`)).status).toBe(200);
      await expect(stack.sql.query('SELECT current_database() AS name')).resolves.toMatchObject({ rows: [{ name: stack.db.database }] });

      await stack.stop();
      stopped = true;
      expect(stack.service.child.exitCode !== null || stack.service.child.signalCode !== null).toBe(true);
      expect(stack.processes.sim.child.exitCode !== null || stack.processes.sim.child.signalCode !== null).toBe(true);
      expect(await databaseExists(stack.db.database)).toBe(false);
    } finally {
      if (!stopped) await stack.stop();
    }
  });

  it('When a stack has no database and starts later, then db and sql say so, and a replica and a restart each get the same env', async () => {
    const stack = await startServiceStack({ service: 'provider-sim', database: false, start: false });
    try {
      expect(() => stack.db).toThrow(/no database/);
      expect(() => stack.sql).toThrow(/no database/);
      expect(() => stack.service).toThrow(/no service process/);
      const first = await stack.startReplica();
      const second = await stack.startReplica({ LOG_LEVEL: 'error' });
      expect(stack.replicas).toEqual([first, second]);
      const restarted = await stack.restart();
      expect(second.child.exitCode !== null || second.child.signalCode !== null).toBe(true);
      expect(stack.replicas).toEqual([first, restarted]);
      expect((await fetch(`${restarted.url}/health/live`)).status).toBe(200);
    } finally {
      await stack.stop();
    }
    expect(stack.replicas).toEqual([]);
  });

  it('When a step fails (an entry that does not exist), then what was started is stopped and its database dropped before the error', async () => {
    await expect(startServiceStack({ service: 'provider-sim', entry: 'services/provider-sim/src/no-such-main.ts' })).rejects.toThrow(/exited/);
    // Every database this test process made carries its run id; the stacks above were stopped, and the failed one must have dropped its own.
    const { rows } = await withAdminClient((admin) =>
      admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`t_provider_sim_${TEST_RUN_ID}_%`]),
    );
    expect(rows).toEqual([]);
  });
});
