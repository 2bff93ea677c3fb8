import { z } from 'zod';
import { authEnv, ConfigError, envField, httpServerEnv, loadConfig, parseEnv, postgresEnv, rabbitmqEnv, telemetryEnv } from './index';

const schema = httpServerEnv(3100)
  .merge(telemetryEnv)
  .extend({
    ADMIN_ENABLED: envField.bool(false),
    READ_TIMEOUT_MS: envField.durationMs(10_000, { min: 1 }),
  });

describe('parseEnv', () => {
  it('When the environment is empty, then every knob takes its documented default', () => {
    const config = parseEnv('svc', schema, {});
    expect(config).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 3100,
      LOG_LEVEL: 'info',
      ADMIN_ENABLED: false,
      READ_TIMEOUT_MS: 10_000,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_TRACES_SAMPLER_ARG: 1,
      OTEL_BSP_MAX_QUEUE_SIZE: 2048,
      OTEL_BSP_SCHEDULE_DELAY: 1_000,
    });
  });

  it('When values are given as strings, then they are coerced to their types', () => {
    const config = parseEnv('svc', schema, { PORT: '8080', ADMIN_ENABLED: 'true', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    expect(config.PORT).toBe(8080);
    expect(config.ADMIN_ENABLED).toBe(true);
    expect(config.OTEL_TRACES_SAMPLER_ARG).toBe(0.25);
  });

  it('When a variable is bad, then the error names it and the value given', () => {
    let caught: unknown;
    try {
      parseEnv('provider-sim', schema, { PORT: 'abc', ADMIN_ENABLED: 'maybe' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('CONFIG.INVALID');
    expect(error.problems.map((p) => p.variable).sort()).toEqual(['ADMIN_ENABLED', 'PORT']);
    expect(error.message).toContain('provider-sim: invalid configuration');
    expect(error.message).toMatch(/PORT: .*\(got "abc"\)/);
  });

  it('When a required variable without default is missing, then the error names it', () => {
    const strict = z.object({ PAYMENT_API_KEY: z.string().min(1) });
    expect(() => parseEnv('svc', strict, {})).toThrow(/PAYMENT_API_KEY/);
  });

  it('When a URL has the wrong scheme, then it is rejected', () => {
    expect(() => parseEnv('svc', schema, { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL/);
  });

  it('When a variable is set to an empty string, then its default applies', () => {
    expect(parseEnv('svc', schema, { PORT: '' }).PORT).toBe(3100);
  });

  it('When a boolean is spelled out, then anything but a known word is an error', () => {
    expect(parseEnv('svc', schema, { ADMIN_ENABLED: '0' }).ADMIN_ENABLED).toBe(false);
    expect(() => parseEnv('svc', schema, { ADMIN_ENABLED: 'off' })).toThrow(/ADMIN_ENABLED/);
  });
});

describe('parseEnv in production mode', () => {
  const withSecrets = httpServerEnv(3001).merge(postgresEnv).merge(rabbitmqEnv).merge(authEnv);
  const secrets = {
    POSTGRES_PASSWORD: 's3cret',
    RABBITMQ_URL: 'amqps://order:s3cret@mq.internal:5671',
    AUTH_JWKS_URL: 'https://id.example.test/.well-known/jwks.json',
  };
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      parseEnv('order', withSecrets, env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => p.variable).sort();
      throw error;
    }
    return [];
  };

  it('When NODE_ENV is not production, then the secrets fall back to their development defaults', () => {
    const config = parseEnv('order', withSecrets, {});
    expect(config.POSTGRES_PASSWORD).toBe('conveyor');
    expect(config.RABBITMQ_URL).toBe('amqp://conveyor:conveyor@127.0.0.1:5672');
    expect(config.AUTH_JWKS_FILE).toBe('.run/auth/jwks.json');
  });

  it('When NODE_ENV=production and no secret is set, then every one is named and none takes its default', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual(['AUTH_JWKS_FILE', 'POSTGRES_PASSWORD', 'RABBITMQ_URL']);
  });

  it('When CONFIG_REQUIRE_SECRETS=true, then production mode applies under any NODE_ENV', () => {
    expect(problemsOf({ NODE_ENV: 'staging', CONFIG_REQUIRE_SECRETS: 'true' })).toEqual(['AUTH_JWKS_FILE', 'POSTGRES_PASSWORD', 'RABBITMQ_URL']);
  });

  it('When every secret is set, then production mode starts; a JWKS URL stands in for the JWKS file', () => {
    const config = parseEnv('order', withSecrets, { NODE_ENV: 'production', ...secrets });
    expect(config.POSTGRES_PASSWORD).toBe('s3cret');
    expect(config.AUTH_JWKS_URL).toBe(secrets.AUTH_JWKS_URL);
    expect(problemsOf({ NODE_ENV: 'production', ...secrets, AUTH_JWKS_URL: '', AUTH_JWKS_FILE: '/etc/conveyor/jwks.json' })).toEqual([]);
  });

  it('When the broker URL carries no password in production mode, then it is refused', () => {
    expect(problemsOf({ NODE_ENV: 'production', ...secrets, RABBITMQ_URL: 'amqp://mq.internal:5672' })).toEqual(['RABBITMQ_URL']);
  });

  it('When a secret is set to an empty string, then it counts as missing', () => {
    expect(problemsOf({ NODE_ENV: 'production', ...secrets, POSTGRES_PASSWORD: '' })).toEqual(['POSTGRES_PASSWORD']);
  });
});

describe('loadConfig', () => {
  it('When a production secret is missing, then it prints the variable and exits with 78 (EX_CONFIG)', () => {
    const saved = { ...process.env };
    const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${code}`);
    });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      process.env['NODE_ENV'] = 'production';
      delete process.env['POSTGRES_PASSWORD'];
      expect(() => loadConfig('order', postgresEnv)).toThrow('exit 78');
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toMatch(/POSTGRES_PASSWORD: a secret: must be set in production mode/);
    } finally {
      process.env = saved;
      exit.mockRestore();
      stderr.mockRestore();
    }
  });
});
