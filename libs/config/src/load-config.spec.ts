import { z } from 'zod';
import { ConfigError, envField, httpServerEnv, parseEnv, telemetryEnv } from './index';

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
