export { defineEvent, envelopeHeaderSchema, eventSchema, type EventContract, type EventEnvelope, type EventOf } from './envelope';
export { Exchanges, Queues, RoutingKeys, Topics } from './destinations';
export { catalogEventSchema, ProductPublished, ProductUpdated, type CatalogEvent } from './catalog.events';
export { OrderCancelled, orderEventSchema, OrderPaid, OrderPaymentFailed, type OrderEvent } from './order.events';
export { PointsAwarded, pointsAwardReason, pointsEventSchema, PointsExpired, type PointsEvent } from './points.events';
export { notificationCommandSchema, NotificationTemplates, SendPush, SendSms, type NotificationCommand } from './notification.commands';
export { Channels, type ChannelContract } from './channels';
export { asyncApiDocument, serviceAsyncApi, type AsyncApiDocument } from './asyncapi-document';
