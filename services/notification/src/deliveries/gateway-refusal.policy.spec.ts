import { DownstreamRejectedError, DownstreamServerError } from '@conveyor/resilience';
import { refusalReason } from './gateway-refusal.policy';

const rejected = (status: number, body: unknown, afterAmbiguousAttempt = false) => {
  const error = new DownstreamRejectedError(status, body, { downstream: 'sms', attempts: 1 });
  error.afterAmbiguousAttempt = afterAmbiguousAttempt;
  return error;
};

describe('gateway refusal policy', () => {
  it('When the gateway refuses with a 4xx and a problem code, then it is a refusal for good, with that code as the reason', () => {
    expect(refusalReason(rejected(422, { code: 'SMS.INVALID_NUMBER' }))).toBe('SMS.INVALID_NUMBER');
    expect(refusalReason(rejected(404, { code: 'PUSH.UNKNOWN_DEVICE' }))).toBe('PUSH.UNKNOWN_DEVICE');
  });

  it('When the 4xx body has no code, then the reason names the status', () => {
    expect(refusalReason(rejected(400, 'bad request'))).toBe('REJECTED_400');
    expect(refusalReason(rejected(403, { code: 42 }))).toBe('REJECTED_403');
  });

  it('When the 4xx says "not now" (408, 409, 425, 429), then it is retried, not a refusal', () => {
    for (const status of [408, 409, 425, 429]) expect(refusalReason(rejected(status, { code: 'BUSY' }))).toBeUndefined();
  });

  it('When the 4xx answers a retry after an attempt that may have been applied, then it is retried, not a refusal', () => {
    expect(refusalReason(rejected(422, { code: 'SMS.INVALID_NUMBER' }, true))).toBeUndefined();
  });

  it('When the call failed otherwise (5xx, any other error), then it is retried', () => {
    expect(refusalReason(new DownstreamServerError(503, undefined, { downstream: 'sms', attempts: 3 }))).toBeUndefined();
    expect(refusalReason(new Error('socket hang up'))).toBeUndefined();
  });
});
