import { DomainError, Public } from '@conveyor/http';
import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import { READINESS_PROBES, type ReadinessProbe } from './readiness';

// A probe must answer before the kubelet gives up on it.
const PROBE_TIMEOUT_MS = 1_000;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS).unref()),
  ]);
}

/** `/health/live` (the process answers) and `/health/ready` (see docs/architecture.md, "Readiness"). */
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(READINESS_PROBES) private readonly probes: ReadinessProbe[],
  ) {}

  /** The process is up and its event loop answers; nothing else is checked, so a dependency's outage never restarts it. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /**
   * Ready for HTTP traffic: every critical probe answers. Non-critical ones
   * (brokers behind the outbox, Redis where only background jobs use it) are
   * run too and reported under `degraded` when down, without failing.
   */
  @Get('ready')
  @HealthCheck()
  async ready(): Promise<HealthCheckResult> {
    const optional = this.probes.filter((p) => !p.critical);
    const [optionalResults, result] = await Promise.all([
      Promise.all(optional.map((p) => this.run(p))),
      this.health.check(this.probes.filter((p) => p.critical).map((p) => () => this.run(p))).catch((error: unknown) => {
        if (error instanceof ServiceUnavailableException) return { unavailable: error };
        throw error;
      }),
    ]);
    const degraded = Object.assign({}, ...optionalResults.filter((r) => Object.values(r)[0].status === 'down')) as HealthIndicatorResult;
    const details = Object.assign({}, ...optionalResults) as HealthIndicatorResult;
    if ('unavailable' in result) {
      const body = result.unavailable.getResponse() as HealthCheckResult;
      const down = Object.keys(body.error ?? {});
      throw new DomainError({
        code: 'HEALTH.NOT_READY',
        kind: 'unavailable',
        detail: `Not ready: ${down.join(', ')} down.`,
        extensions: { error: body.error, details: { ...body.details, ...details } },
      });
    }
    const info = Object.assign({}, result.info, ...optionalResults.filter((r) => Object.values(r)[0].status === 'up')) as HealthIndicatorResult;
    return { ...result, info, ...(Object.keys(degraded).length > 0 ? { degraded } : {}), details: { ...result.details, ...details } } as HealthCheckResult;
  }

  private async run(probe: ReadinessProbe): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(probe.name);
    try {
      await withTimeout(probe.check());
      return indicator.up();
    } catch (error) {
      return probe.critical ? indicator.down({ message: (error as Error).message }) : indicator.down({ message: (error as Error).message, critical: false });
    }
  }
}
