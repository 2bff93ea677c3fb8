import { DomainError } from '@conveyor/http';

/**
 * A guarded write carried a fencing token older than one already used on the
 * same resource: a newer lease holder exists, so this holder's lease expired
 * (a pause, a partition) and its write must not land.
 */
export class StaleFencingTokenError extends DomainError {
  constructor(
    readonly resource: string,
    readonly token: number,
  ) {
    super({
      code: 'LOCK.STALE_FENCING_TOKEN',
      kind: 'conflict',
      detail: `Fencing token ${token} for ${resource} is stale: a newer lease holder has written.`,
      extensions: { resource, token },
    });
  }
}

/** The reason a lease's AbortSignal fires: it could not be renewed before it expired, or someone else holds it. */
export class LeaseLostError extends Error {
  readonly code = 'LOCK.LEASE_LOST';

  constructor(
    readonly lockName: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`lease ${lockName} lost: ${detail}`, options);
    this.name = 'LeaseLostError';
  }
}
