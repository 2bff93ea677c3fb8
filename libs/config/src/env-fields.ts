import { z } from 'zod';

/** How a secret variable must be given in production mode (see {@link productionMode}). */
export interface SecretRule {
  /** Other variables that stand in for this one (a JWKS URL instead of a JWKS file). */
  satisfiedBy?: string[];
  /** The value is a URL that must carry a user name and a password (broker credentials). */
  credentialsInUrl?: boolean;
}

/**
 * The schemas of secret variables. Their defaults are for a developer machine
 * only: in production mode {@link parseEnv} refuses to start unless each one is
 * set in the environment.
 */
export const secretFields = z.registry<SecretRule>();

/**
 * Field builders for environment schemas. Every knob has a default that works
 * against the local infrastructure (deploy/local), so a service starts with no
 * environment at all on a developer machine, and fails loudly on a bad value.
 */
export const envField = {
  /** A TCP port; 0 lets the OS pick one (tests). */
  port: (defaultValue: number) => z.coerce.number().int().min(0).max(65535).default(defaultValue),

  /** A whole number within bounds. */
  int: (defaultValue: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) => z.coerce.number().int().min(min).max(max).default(defaultValue),

  /** A duration in milliseconds (timeouts, intervals). */
  durationMs: (defaultValue: number, { min = 0, max = 24 * 60 * 60 * 1000 } = {}) => z.coerce.number().int().min(min).max(max).default(defaultValue),

  /** A number from 0 to 1 (sampling ratios, error rates). */
  ratio: (defaultValue: number) => z.coerce.number().min(0).max(1).default(defaultValue),

  /** `true`/`false` (also `1`/`0`, `yes`/`no`); anything else is an error, not `false`. */
  bool: (defaultValue: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(defaultValue ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),

  /** An absolute URL with one of the given schemes. */
  url: (defaultValue: string, schemes: string[] = ['http', 'https']) =>
    z
      .string()
      .default(defaultValue)
      .refine(
        (v) => {
          try {
            return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
          } catch {
            return false;
          }
        },
        { message: `expected a URL (${schemes.join(', ')})` },
      ),

  /** An absolute URL with one of the given schemes, or unset. */
  optionalUrl: (schemes: string[] = ['http', 'https']) =>
    z
      .string()
      .optional()
      .refine(
        (v) => {
          if (v === undefined) return true;
          try {
            return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
          } catch {
            return false;
          }
        },
        { message: `expected a URL (${schemes.join(', ')})` },
      ),

  /** A non-empty string. */
  string: (defaultValue: string) => z.string().min(1).default(defaultValue),

  /** A comma-separated list of non-empty strings. */
  list: (defaultValue: string) =>
    z
      .string()
      .default(defaultValue)
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine((v) => v.length > 0, { message: 'expected at least one value' }),

  /**
   * A secret (password, credentials, key material): `devDefault` is used on a
   * developer machine; in production mode the variable must be set (or one of
   * `rule.satisfiedBy`), or the process does not start.
   */
  secret: <T extends z.ZodType>(schema: T, rule: SecretRule = {}): T => {
    secretFields.add(schema, rule);
    return schema;
  },

  logLevel: (defaultValue = 'info') => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(defaultValue as 'info'),
};
