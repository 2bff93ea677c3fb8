import { TEST_RUN_ID, uniqueName } from './unique-names';

describe('uniqueName', () => {
  it('When called twice with the same prefix, then the names differ and carry the run id', () => {
    const a = uniqueName('orders');
    const b = uniqueName('orders');
    expect(a).not.toBe(b);
    expect(a).toContain(TEST_RUN_ID);
  });

  it('When the prefix has characters a database name cannot hold, then they are replaced', () => {
    expect(uniqueName('Order.Events-x')).toMatch(/^t_order_events_x_[a-z0-9]+_\d+$/);
  });
});
