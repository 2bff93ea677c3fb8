/**
 * Deterministic declines, so tests and demos can ask for one:
 * - a `cardToken` starting with `tok_decline` → `card_declined`;
 * - an amount whose last two digits are 13 (e.g. 1013, 25013) → `insufficient_funds`.
 * Anything else is approved.
 */
export function declineReason(request: { amount: number; cardToken?: string }): string | undefined {
  if (request.cardToken?.startsWith('tok_decline')) return 'card_declined';
  if (request.amount % 100 === 13) return 'insufficient_funds';
  return undefined;
}
