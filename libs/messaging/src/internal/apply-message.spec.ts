import { OrderPaid, orderEventSchema } from '@conveyor/contracts';
import { InvalidMessageError } from '../errors';
import { parseEnvelope } from './apply-message';

const paid = OrderPaid.create('o-1', { orderId: 'o-1', customerId: 'c-1', sellerId: 's-1', amountMinor: 100, currency: 'KRW', paymentId: 'p-1' });

describe('parseEnvelope', () => {
  it('When the body is a valid event of the topic, then it is returned parsed', () => {
    expect(parseEnvelope(Buffer.from(JSON.stringify(paid)), orderEventSchema)).toEqual(paid);
  });

  it('When the body is empty, not JSON, not an envelope, or fails the schema, then it is an InvalidMessageError saying which', () => {
    expect(() => parseEnvelope(null, orderEventSchema)).toThrow(/empty message body/);
    expect(() => parseEnvelope(Buffer.from('{'), orderEventSchema)).toThrow(/body is not JSON/);
    expect(() => parseEnvelope(Buffer.from('{"id":1}'), orderEventSchema)).toThrow(/not an event envelope/);
    const bad = { ...paid, payload: { ...paid.payload, amountMinor: -1 } };
    expect(() => parseEnvelope(Buffer.from(JSON.stringify(bad)), orderEventSchema)).toThrow(InvalidMessageError);
    expect(() => parseEnvelope(Buffer.from(JSON.stringify(bad)), orderEventSchema)).toThrow(/OrderPaid v1 fails its schema: payload\.amountMinor/);
  });
});
