import { declineReason } from './decline.policy';

describe('decline policy', () => {
  it('When the card token starts with tok_decline, then the card is declined, whatever the amount', () => {
    expect(declineReason({ amount: 1_000, cardToken: 'tok_decline_demo' })).toBe('card_declined');
    expect(declineReason({ amount: 1_013, cardToken: 'tok_decline' })).toBe('card_declined');
  });

  it('When the amount ends in 13, then it is insufficient funds', () => {
    expect(declineReason({ amount: 1_013 })).toBe('insufficient_funds');
    expect(declineReason({ amount: 25_013, cardToken: 'tok_visa' })).toBe('insufficient_funds');
  });

  it('When neither rule applies, then it is approved', () => {
    expect(declineReason({ amount: 1_000 })).toBeUndefined();
    expect(declineReason({ amount: 1_130, cardToken: 'tok_visa_decline' })).toBeUndefined();
    expect(declineReason({ amount: 1_300 })).toBeUndefined();
  });
});
