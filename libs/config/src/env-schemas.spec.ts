import { Exchanges, Queues, Topics } from '@conveyor/contracts';
import { z } from 'zod';
import { destinationsEnv, httpServerEnv } from './env-schemas';

describe('destinationsEnv', () => {
  it('When nothing is set, then every name is libs/contracts’ own', () => {
    expect(destinationsEnv.parse({})).toEqual({
      ORDER_EVENTS_TOPIC: Topics.orderEvents,
      CATALOG_EVENTS_TOPIC: Topics.catalogEvents,
      POINTS_EVENTS_TOPIC: Topics.pointsEvents,
      NOTIFICATION_EXCHANGE: Exchanges.notificationCommands,
      NOTIFICATION_QUEUE: Queues.notificationSend,
    });
  });

  it('When a service picks its names, then its schema has only those, each overridable from env', () => {
    const env = httpServerEnv(3000).merge(destinationsEnv.pick({ ORDER_EVENTS_TOPIC: true, NOTIFICATION_EXCHANGE: true }));
    const parsed = env.parse({ ORDER_EVENTS_TOPIC: 't_order_events_1' });
    expect(parsed).toMatchObject({ ORDER_EVENTS_TOPIC: 't_order_events_1', NOTIFICATION_EXCHANGE: Exchanges.notificationCommands });
    expect(parsed).not.toHaveProperty('POINTS_EVENTS_TOPIC');
  });

  it('When a name is set empty, then the config is refused', () => {
    expect(destinationsEnv.safeParse({ NOTIFICATION_EXCHANGE: '' }).success).toBe(false);
    expect(z.object({}).merge(destinationsEnv).safeParse({ CATALOG_EVENTS_TOPIC: 'catalog' }).success).toBe(true);
  });
});
