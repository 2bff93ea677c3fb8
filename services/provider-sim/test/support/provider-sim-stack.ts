import { startServiceStack, type ServiceStack } from '@conveyor/testing';

/**
 * provider-sim as one test file runs it (libs/testing `startServiceStack`):
 * no database, quiet and untraced unless `env` says otherwise, its admin API
 * on unless `admin: false` (as in any deployment).
 */
export function startProviderSimStack({ admin = true, env = {} }: { admin?: boolean; env?: Record<string, string> } = {}): Promise<ServiceStack> {
  return startServiceStack({ service: 'provider-sim', database: false, env: { PROVIDER_SIM_ADMIN: String(admin), ...env } });
}
