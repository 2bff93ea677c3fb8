import { PROBLEM_JSON, stackNamesEnv } from './service-stack';

describe('stackNamesEnv', () => {
  let n = 0;
  const name = (prefix: string) => `${prefix}#${(n += 1)}`;
  beforeEach(() => (n = 0));

  it('When a stack is made, then every shared destination, key prefix and the consumer group gets a name of its own', () => {
    const env = stackNamesEnv('order', {}, name);
    expect(env).toMatchObject({
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      KAFKA_TOPIC_PARTITIONS: '1',
      ORDER_EVENTS_TOPIC: expect.stringMatching(/^order_events#\d+$/),
      CATALOG_EVENTS_TOPIC: expect.stringMatching(/^catalog_events#/),
      POINTS_EVENTS_TOPIC: expect.stringMatching(/^points_events#/),
      NOTIFICATION_EXCHANGE: expect.stringMatching(/^notification_commands#/),
      NOTIFICATION_QUEUE: expect.stringMatching(/^notification_send#/),
      KAFKA_CONSUMER_GROUP: expect.stringMatching(/^order_group#/),
      LOCK_KEY_PREFIX: expect.stringMatching(/^order_lock#/),
      RATE_LIMIT_KEY_PREFIX: expect.stringMatching(/^order_ratelimit#/),
    });
    const unique = Object.entries(env).filter(([key]) => !['OTEL_SDK_DISABLED', 'LOG_LEVEL', 'KAFKA_TOPIC_PARTITIONS'].includes(key));
    expect(new Set(unique.map(([, value]) => value)).size).toBe(unique.length);
  });

  it('When extra names are asked for, then each env name gets a unique value from its prefix', () => {
    const env = stackNamesEnv('search', { SEARCH_REDIS_PREFIX: 'search', SEARCH_INVALIDATE_CHANNEL: 'search_invalidate' }, name);
    expect(env['SEARCH_REDIS_PREFIX']).toMatch(/^search#\d+$/);
    expect(env['SEARCH_INVALIDATE_CHANNEL']).toMatch(/^search_invalidate#\d+$/);
  });

  it('When the service name has dashes, then the prefixes are snake case (valid for every server)', () => {
    expect(stackNamesEnv('provider-sim', {}, name)['LOCK_KEY_PREFIX']).toMatch(/^provider_sim_lock#/);
  });

  it('When two stacks are made with the real names, then they share nothing', () => {
    const a = stackNamesEnv('order');
    const b = stackNamesEnv('order');
    expect(a['ORDER_EVENTS_TOPIC']).not.toBe(b['ORDER_EVENTS_TOPIC']);
    expect(a['LOCK_KEY_PREFIX']).not.toBe(b['LOCK_KEY_PREFIX']);
  });

  it('PROBLEM_JSON is the RFC 9457 content type', () => {
    expect(PROBLEM_JSON).toBe('application/problem+json');
  });
});
