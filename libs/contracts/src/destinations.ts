/** Kafka topics, RabbitMQ exchanges, queues and routing keys: the names both sides must agree on. */
export const Topics = {
  /** ProductPublished, ProductUpdated; key = product id. */
  catalogEvents: 'catalog.events',
  /** OrderPaid, OrderPaymentFailed, OrderCancelled; key = order id. */
  orderEvents: 'order.events',
  /** PointsAwarded, PointsExpired; key = customer (user) id. */
  pointsEvents: 'points.events',
} as const;

export const Exchanges = {
  /** Topic exchange for notification commands. */
  notificationCommands: 'notification.commands',
} as const;

export const Queues = {
  /** Quorum queue the notification service consumes. */
  notificationSend: 'notification.send',
} as const;

export const RoutingKeys = {
  sendPush: 'notification.push',
  sendSms: 'notification.sms',
  /** Binding of `notification.send`: every notification command. */
  allNotifications: 'notification.*',
} as const;
