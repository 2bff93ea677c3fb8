export { defineEvent, envelopeHeaderSchema, eventSchema, type EventContract, type EventEnvelope, type EventOf } from './envelope';
export { Exchanges, Queues, RoutingKeys, Topics } from './destinations';
export { catalogEventSchema, ProductPublished, ProductUpdated, type CatalogEvent } from './catalog.events';
export { OrderCancelled, orderEventSchema, OrderPaid, OrderPaymentFailed, OrderPlaced, type OrderEvent } from './order.events';
export { PointsAwarded } from './points.events';
export { notificationCommandSchema, SendPush, SendSms, type NotificationCommand } from './notification.commands';
