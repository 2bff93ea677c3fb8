import { z } from 'zod';
import { ConfigError, type ConfigProblem } from './config-error';
import { secretFields } from './env-fields';

/**
 * Production mode: `NODE_ENV=production`, or `CONFIG_REQUIRE_SECRETS=true` for a
 * production-like run under another NODE_ENV. Read from the raw environment, so
 * it holds whatever schema a service composes.
 */
export function productionMode(env: Record<string, string | undefined>): boolean {
  return env['NODE_ENV'] === 'production' || ['true', '1', 'yes'].includes(env['CONFIG_REQUIRE_SECRETS'] ?? '');
}

/** In production mode: every secret field of `schema` that the environment leaves to its development default. */
function missingSecrets(schema: z.ZodType, env: Record<string, string | undefined>): ConfigProblem[] {
  if (!(schema instanceof z.ZodObject)) return [];
  const problems: ConfigProblem[] = [];
  for (const [variable, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const rule = secretFields.get(field);
    if (rule === undefined) continue;
    const given = env[variable];
    if (given === undefined && !(rule.satisfiedBy ?? []).some((other) => env[other] !== undefined)) {
      const alternatives = rule.satisfiedBy?.length ? ` (or ${rule.satisfiedBy.join(', ')})` : '';
      problems.push({ variable, message: `a secret${alternatives}: must be set in production mode; the development default is not used` });
      continue;
    }
    if (rule.credentialsInUrl && given !== undefined) {
      const url = new URL(given); // already validated as a URL by the schema
      if (!url.username || !url.password) problems.push({ variable, message: 'must carry a user name and a password in production mode' });
    }
  }
  return problems;
}

/**
 * Validates `env` against `schema` and returns the typed configuration.
 * Throws a {@link ConfigError} that names every bad variable, and, in
 * {@link productionMode}, every secret left to its development default.
 */
export function parseEnv<S extends z.ZodType>(service: string, schema: S, env: Record<string, string | undefined> = process.env): z.output<S> {
  // Empty strings count as unset, so `PORT=` falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) {
    const missing = productionMode(cleaned) ? missingSecrets(schema, cleaned) : [];
    if (missing.length === 0) return result.data;
    throw new ConfigError(service, missing);
  }
  throw new ConfigError(
    service,
    result.error.issues.map((issue) => {
      const variable = issue.path.join('.') || '(environment)';
      const given = env[variable];
      return {
        variable,
        message: given === undefined ? issue.message : `${issue.message} (got ${JSON.stringify(given)})`,
      };
    }),
  );
}

/**
 * Loads a service's configuration once at start-up. On a bad environment it
 * prints which variables are wrong and ends the process with exit code 78
 * (EX_CONFIG), before anything is listening or reports ready.
 */
export function loadConfig<S extends z.ZodType>(service: string, schema: S): z.output<S> {
  try {
    return parseEnv(service, schema);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
}
