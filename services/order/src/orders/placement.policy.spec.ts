import { commitCertainlyFailed, placementOf, priceOrder } from './placement.policy';

const pgError = (code: string) => Object.assign(new Error(`postgres ${code}`), { code });
/** TypeORM's QueryFailedError shape: the driver's error under `driverError`. */
const queryFailed = (code: string) => Object.assign(new Error('query failed'), { driverError: pgError(code) });

describe('placement policy', () => {
  it('When the payment is decided, then the placement is decided; while its outcome is not known, accepted', () => {
    for (const status of ['PAID', 'FAILED', 'CANCELLED', 'CANCELLING', 'PENDING'] as const) expect(placementOf(status)).toBe('decided');
    for (const status of ['UNKNOWN', 'REQUIRES_ATTENTION'] as const) expect(placementOf(status)).toBe('accepted');
  });

  it('When PostgreSQL itself refused the commit (lock timeout, serialization failure, constraint), then it certainly did not commit', () => {
    for (const code of ['55P03', '40001', '40P01', '23505', '57014']) expect(commitCertainlyFailed(queryFailed(code))).toBe(true);
    expect(commitCertainlyFailed(pgError('55P03'))).toBe(true);
  });

  it('When the connection was lost or the server was shutting down, or no SQLSTATE came back, then the commit may have held', () => {
    for (const code of ['08006', '08003', '57P01', '57P03']) expect(commitCertainlyFailed(queryFailed(code))).toBe(false);
    expect(commitCertainlyFailed(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
    expect(commitCertainlyFailed(new Error('Connection terminated unexpectedly'))).toBe(false);
  });
});

describe('pricing a placement', () => {
  const product = (id: string, price: string, seller = 's-1', currency = 'KRW') => ({ id, seller_id: seller, price_amount: price, currency });

  it('When every product is on sale from one seller in one currency, then each line takes its price now and the total is their sum', () => {
    const priced = priceOrder(
      [
        { productId: 'a', quantity: 2 },
        { productId: 'b', quantity: 1 },
        { productId: 'a', quantity: 3 },
      ],
      [product('b', '250'), product('a', '1000')],
    );
    expect(priced).toEqual({
      kind: 'priced',
      sellerId: 's-1',
      currency: 'KRW',
      totalAmount: 5_250,
      lines: [
        { productId: 'a', quantity: 2, unitPrice: '1000' },
        { productId: 'b', quantity: 1, unitPrice: '250' },
        { productId: 'a', quantity: 3, unitPrice: '1000' },
      ],
    });
  });

  it('When a product is not on sale, then it is named once, before any other refusal', () => {
    const lines = [
      { productId: 'a', quantity: 1 },
      { productId: 'gone', quantity: 1 },
      { productId: 'gone', quantity: 2 },
    ];
    expect(priceOrder(lines, [product('a', '1', 's-1', 'USD')])).toEqual({ kind: 'unknown-products', productIds: ['gone'] });
  });

  it('When products are priced in two currencies, or sold by two sellers, then the order is refused for it (currency first)', () => {
    const lines = [
      { productId: 'a', quantity: 1 },
      { productId: 'b', quantity: 1 },
    ];
    expect(priceOrder(lines, [product('a', '1', 's-1', 'KRW'), product('b', '1', 's-2', 'USD')])).toEqual({ kind: 'mixed-currencies' });
    expect(priceOrder(lines, [product('a', '1', 's-1'), product('b', '1', 's-2')])).toEqual({ kind: 'multiple-sellers' });
  });
});
