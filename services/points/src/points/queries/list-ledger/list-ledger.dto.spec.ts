import { DomainError } from '@conveyor/http';
import { ledgerCursor } from './list-ledger.dto';

describe('ledger cursor', () => {
  it('When a page ends at an entry, then its cursor decodes to that entry id', () => {
    expect(ledgerCursor.decode(ledgerCursor.encode({ id: '42' }))).toEqual({ id: '42' });
    expect(ledgerCursor.decode(undefined)).toBeUndefined();
  });

  it('When a cursor is not one of ours (not base64url JSON, not an id, an id of 20 digits), then 400 REQUEST.VALIDATION_FAILED', () => {
    for (const raw of ['%%%', Buffer.from('{"id":"0"}').toString('base64url'), Buffer.from(`{"id":"${'9'.repeat(20)}"}`).toString('base64url')]) {
      let thrown: unknown;
      try {
        ledgerCursor.decode(raw);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(DomainError);
      expect(thrown).toMatchObject({ code: 'REQUEST.VALIDATION_FAILED' });
    }
  });
});
