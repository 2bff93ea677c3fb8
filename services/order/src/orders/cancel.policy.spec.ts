import { cancelDecision } from './cancel.policy';

const NOW = new Date('2026-06-15T00:00:00Z');
const WINDOW_S = 14 * 24 * 60 * 60;
const paidAgo = (ms: number) => new Date(NOW.getTime() - ms);

describe('cancel policy', () => {
  it('When the order is cancelled already, then it is answered again; FAILED or REQUIRES_ATTENTION, then it is not cancellable', () => {
    expect(cancelDecision({ status: 'CANCELLED', paid_at: null }, NOW, WINDOW_S)).toEqual({ kind: 'answer' });
    expect(cancelDecision({ status: 'FAILED', paid_at: null }, NOW, WINDOW_S)).toEqual({ kind: 'not-cancellable' });
    expect(cancelDecision({ status: 'REQUIRES_ATTENTION', paid_at: paidAgo(1000) }, NOW, WINDOW_S)).toEqual({ kind: 'not-cancellable' });
  });

  it('When the payment is not settled (PENDING, UNKNOWN), then the order is cancelled at once', () => {
    expect(cancelDecision({ status: 'PENDING', paid_at: null }, NOW, WINDOW_S)).toEqual({ kind: 'cancel-now' });
    expect(cancelDecision({ status: 'UNKNOWN', paid_at: null }, NOW, WINDOW_S)).toEqual({ kind: 'cancel-now' });
  });

  it('When a PAID order is cancelled within its window (its last millisecond included), then it is refunded first; past it, the window is closed', () => {
    expect(cancelDecision({ status: 'PAID', paid_at: paidAgo(WINDOW_S * 1000) }, NOW, WINDOW_S)).toEqual({ kind: 'refund-first' });
    expect(cancelDecision({ status: 'PAID', paid_at: paidAgo(WINDOW_S * 1000 + 1) }, NOW, WINDOW_S)).toEqual({
      kind: 'window-closed',
      paidAt: paidAgo(WINDOW_S * 1000 + 1),
    });
    // Paid before paid_at was recorded: no window to close.
    expect(cancelDecision({ status: 'PAID', paid_at: null }, NOW, WINDOW_S)).toEqual({ kind: 'refund-first' });
  });

  it('When a cancel left CANCELLING is repeated after the window, then it is finished: it was decided inside the window', () => {
    expect(cancelDecision({ status: 'CANCELLING', paid_at: paidAgo(WINDOW_S * 1000 * 2) }, NOW, WINDOW_S)).toEqual({ kind: 'refund-first' });
  });
});
