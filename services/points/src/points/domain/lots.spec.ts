import { balancesAfterEach, firstExpiry, pointsIn, spendableAt, takeBackSplit, takeInOrder, type OpenLot } from './lots';

const at = (iso: string): Date => new Date(iso);
const lot = (id: string, remaining: number, expiresAt: string, availableAt = '2026-01-01T00:00:00Z'): OpenLot => ({
  id,
  remaining,
  expiresAt: at(expiresAt),
  availableAt: at(availableAt),
});

describe('lots: what a debit takes', () => {
  const lots = [lot('1', 40, '2026-03-01T00:00:00Z'), lot('2', 100, '2026-06-01T00:00:00Z'), lot('3', 5, '2026-09-01T00:00:00Z')];

  it('When an amount is taken, then the lots are taken in their order, each as far as it goes, and the rest are left untouched', () => {
    expect(takeInOrder(lots, 70)).toEqual({
      pieces: [
        { amount: 40, expiresAt: at('2026-03-01T00:00:00Z') },
        { amount: 30, expiresAt: at('2026-06-01T00:00:00Z') },
      ],
      remaining: [
        { id: '1', remaining: 0 },
        { id: '2', remaining: 70 },
      ],
    });
  });

  it('When the amount is exactly what the lots hold, then every lot is emptied', () => {
    expect(takeInOrder(lots, 145).remaining.every((l) => l.remaining === 0)).toBe(true);
    expect(pointsIn(takeInOrder(lots, 145).pieces.map((p) => ({ remaining: p.amount })))).toBe(145);
  });

  it('When the lots do not cover the amount, then it refuses rather than take less', () => {
    expect(() => takeInOrder(lots, 146)).toThrow(RangeError);
  });

  it('When lots are held, then only those whose hold has ended (at that very instant included) are spendable', () => {
    const mixed = [lot('1', 10, '2027-01-01T00:00:00Z', '2026-05-01T00:00:00Z'), lot('2', 20, '2027-01-01T00:00:00Z', '2026-05-02T00:00:00Z')];
    expect(spendableAt(mixed, at('2026-04-30T23:59:59.999Z')).map((l) => l.id)).toEqual([]);
    expect(spendableAt(mixed, at('2026-05-01T00:00:00Z')).map((l) => l.id)).toEqual(['1']);
    expect(spendableAt(mixed, at('2026-05-02T00:00:00Z')).map((l) => l.id)).toEqual(['1', '2']);
  });
});

describe('lots: a cancelled order taken back', () => {
  it('When the live lots hold the whole award, then all is taken and nothing owed', () => {
    expect(takeBackSplit(500, 400)).toEqual({ taken: 400, owed: 0 });
  });

  it('When some was spent, then what is left is taken and the rest owed as debt', () => {
    expect(takeBackSplit(50, 400)).toEqual({ taken: 50, owed: 350 });
    expect(takeBackSplit(0, 400)).toEqual({ taken: 0, owed: 400 });
  });
});

describe('lots: credits and expiry', () => {
  it('When a credit has pieces of several expiries, then its ledger row carries the first', () => {
    const pieces = [
      { amount: 1, expiresAt: at('2026-06-01T00:00:00Z') },
      { amount: 2, expiresAt: at('2026-02-01T00:00:00Z') },
    ];
    expect(firstExpiry(pieces)).toEqual(at('2026-02-01T00:00:00Z'));
    expect(firstExpiry([])).toBeUndefined();
  });

  it('When lots are written off one after another, then each ledger row has the balance it left', () => {
    expect(balancesAfterEach(22, [5, 7])).toEqual([17, 10]);
    expect(balancesAfterEach(10, [])).toEqual([]);
  });
});
