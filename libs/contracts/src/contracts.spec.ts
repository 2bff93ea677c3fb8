import { catalogEventSchema, envelopeHeaderSchema, notificationCommandSchema, OrderPaid, orderEventSchema, ProductUpdated, SendPush, SendSms } from './index';

const paid = () =>
  OrderPaid.create('order-1', { orderId: 'order-1', customerId: 'c-1', sellerId: 's-1', amountMinor: 1200, currency: 'KRW', paymentId: 'p-1' });

describe('event contracts', () => {
  it('When an event is created, then it has a uuid id, its type and version, and the aggregate id', () => {
    const event = paid();
    expect(event).toMatchObject({ type: 'OrderPaid', version: 1, aggregateId: 'order-1' });
    expect(envelopeHeaderSchema.safeParse(event).success).toBe(true);
    expect(event.id).not.toBe(paid().id);
  });

  it('When an event survives a JSON round trip, then the topic schema parses it to the same event', () => {
    const event = paid();
    expect(orderEventSchema.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('When a payload breaks its schema, then creating or parsing the event fails', () => {
    expect(() => OrderPaid.create('order-1', { orderId: 'order-1' } as never)).toThrow();
    const event = { ...paid(), payload: { orderId: 'order-1', amountMinor: -5 } };
    expect(orderEventSchema.safeParse(event).success).toBe(false);
  });

  it('When the type is unknown or the version differs, then the topic schema rejects it', () => {
    expect(orderEventSchema.safeParse({ ...paid(), type: 'OrderShipped' }).success).toBe(false);
    expect(orderEventSchema.safeParse({ ...paid(), version: 2 }).success).toBe(false);
  });

  it('When a product event lacks its product version or active flag, then the catalog schema rejects it', () => {
    const updated = ProductUpdated.create('p-1', {
      productId: 'p-1',
      sellerId: 's-1',
      name: 'Lamp',
      description: '',
      priceMinor: 1_000,
      currency: 'KRW',
      active: false,
      productVersion: 3,
    });
    expect(catalogEventSchema.parse(JSON.parse(JSON.stringify(updated)))).toEqual(updated);
    const without = (field: 'productVersion' | 'active') => Object.fromEntries(Object.entries(updated.payload).filter(([k]) => k !== field));
    const [withoutVersion, withoutActive] = [without('productVersion'), without('active')];
    expect(catalogEventSchema.safeParse({ ...updated, payload: withoutVersion }).success).toBe(false);
    expect(catalogEventSchema.safeParse({ ...updated, payload: withoutActive }).success).toBe(false);
  });

  it('When an SMS command has a bad phone number, then the command schema rejects it', () => {
    const command = SendSms.create('u-1', { recipientId: 'u-1', phoneNumber: '+821012345678', text: 'hi' });
    expect(notificationCommandSchema.safeParse(command).success).toBe(true);
    expect(notificationCommandSchema.safeParse({ ...command, payload: { ...command.payload, phoneNumber: '010' } }).success).toBe(false);
  });

  it('When a notification command names a template or carries its text, then it is accepted; with neither, it is rejected', () => {
    const templated = SendPush.create('s-1', { recipientId: 's-1', template: 'order-paid', locale: 'en', params: { orderId: 'o-1' } });
    expect(notificationCommandSchema.parse(JSON.parse(JSON.stringify(templated)))).toEqual(templated);
    const literal = SendPush.create('s-1', { recipientId: 's-1', title: 'New paid order', body: 'Order o-1' });
    expect(notificationCommandSchema.safeParse(literal).success).toBe(true);
    expect(notificationCommandSchema.safeParse({ ...literal, payload: { recipientId: 's-1', data: {}, params: {} } }).success).toBe(false);
    const sms = SendSms.create('u-1', { recipientId: 'u-1', phoneNumber: '+821012345678', template: 'verification-code', params: { code: '123456' } });
    expect(notificationCommandSchema.safeParse(sms).success).toBe(true);
    expect(notificationCommandSchema.safeParse({ ...sms, payload: { recipientId: 'u-1', phoneNumber: '+821012345678', params: {} } }).success).toBe(false);
  });
});
