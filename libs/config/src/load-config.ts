import { z } from 'zod';
import { ConfigError } from './config-error';

/**
 * Validates `env` against `schema` and returns the typed configuration.
 * Throws a {@link ConfigError} that names every bad variable.
 */
export function parseEnv<S extends z.ZodType>(service: string, schema: S, env: Record<string, string | undefined> = process.env): z.output<S> {
  // Empty strings count as unset, so `PORT=` falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
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
