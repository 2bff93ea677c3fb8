import { DomainError } from '@conveyor/http';

/** No such account, or one the caller may not see (the same answer, so no one learns which users exist). */
export class AccountNotFound extends DomainError {
  constructor(userId: string) {
    super({ code: 'POINTS.ACCOUNT_NOT_FOUND', kind: 'not_found', detail: `No points account ${userId}.`, extensions: { userId } });
  }
}

/**
 * The points spendable now do not cover the amount: nothing was taken.
 * `available` is what could be spent; `held` what is there but not yet
 * spendable (an order's points until it can no longer be cancelled).
 */
export class InsufficientPoints extends DomainError {
  constructor(requested: number, available: number, held: number) {
    super({
      code: 'POINTS.INSUFFICIENT_BALANCE',
      kind: 'conflict',
      detail:
        held > 0
          ? `The points available now (${available}) do not cover ${requested}; ${held} more are held until their orders can no longer be cancelled. Nothing was taken.`
          : `The points available now (${available}) do not cover ${requested}; nothing was taken.`,
      extensions: { requested, available, held },
    });
  }
}

export class TransferToSelf extends DomainError {
  constructor() {
    super({ code: 'POINTS.TRANSFER_TO_SELF', kind: 'rejected', detail: 'Points cannot be transferred to the same account.' });
  }
}

/** The recipient has no points account (it never earned any). */
export class UnknownRecipient extends DomainError {
  constructor(userId: string) {
    super({ code: 'POINTS.UNKNOWN_RECIPIENT', kind: 'rejected', detail: `No points account ${userId} to transfer to.`, extensions: { toUserId: userId } });
  }
}

/** The user has had POINTS_ACTIVITY_DAILY_CAP activity awards this UTC day: nothing was recorded; the next day counts anew. */
export class ActivityDailyCapReached extends DomainError {
  constructor(userId: string, cap: number, retryAfterSeconds: number) {
    super({
      code: 'POINTS.ACTIVITY_DAILY_CAP_REACHED',
      kind: 'rate_limited',
      detail: `${userId} has had ${cap} activity awards today (UTC), the most a day; nothing was recorded.`,
      retryAfterSeconds,
      extensions: { userId, cap },
    });
  }
}
