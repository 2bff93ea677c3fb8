import { startServiceProcess, type ServiceProcess } from '@conveyor/testing';

/** provider-sim as a real process, admin API on. */
export function startProviderSim(env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startServiceProcess('services/provider-sim/src/main.ts', {
    PROVIDER_SIM_ADMIN: 'true',
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

/** The parts of `/_admin/ledger` the tests read. */
export interface SimLedger {
  charged: { count: number; amount: number };
  byOrder: Record<string, { charges: number; cancels: number }>;
  attempts: Record<string, number>;
}

/** Admin calls against a running provider-sim. */
export function simAdmin(url: string) {
  return {
    reset: async () => void (await fetch(`${url}/_admin/reset`, { method: 'POST' })),
    setFaults: async (faults: unknown) => {
      const res = await fetch(`${url}/_admin/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
      if (res.status !== 200) throw new Error(`PUT /_admin/faults answered ${res.status}: ${await res.text()}`);
    },
    clearFaults: async () => void (await fetch(`${url}/_admin/faults`, { method: 'DELETE' })),
    ledger: async () => (await (await fetch(`${url}/_admin/ledger`)).json()) as SimLedger,
  };
}
