/** One environment variable that failed validation. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Thrown when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  readonly code = 'CONFIG.INVALID';

  constructor(
    readonly service: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${service}: invalid configuration\n` + problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}
