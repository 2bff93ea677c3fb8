import { catalogEventSchema, OrderPaid, RoutingKeys, SendPush } from '@conveyor/contracts';
import { connectTestRabbitmq, eventually, testKafka, uniqueName } from '@conveyor/testing';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Consumer, KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { asAdmin, createProduct, placeOrder, startOrderStack, type OrderBody, type OrderStack } from './support/order-stack';

describe('order service: the outbox relay publishes to Kafka and RabbitMQ', () => {
  let stack: OrderStack;
  let rabbitmq: ChannelModel;
  let channel: Channel;
  let consumer: Consumer;
  const kafkaMessages: KafkaMessage[] = [];
  const commands: ConsumeMessage[] = [];

  beforeAll(async () => {
    stack = await startOrderStack();
    const { ORDER_EVENTS_TOPIC: topic, NOTIFICATION_EXCHANGE: exchange } = stack.orderEnv;
    // The order process declares its topic and exchange at start; ready means the exchange is there.
    await eventually(async () => ((await fetch(`${stack.order.url}/health/ready`)).status === 200 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'order ready',
    });
    const kafka = testKafka();
    consumer = kafka.consumer({ groupId: uniqueName('order_events_reader') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void kafkaMessages.push(message) });
    rabbitmq = await connectTestRabbitmq();
    channel = await rabbitmq.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, RoutingKeys.sendPush);
    await channel.consume(queue, (msg) => void (msg && commands.push(msg)), { noAck: true });
  }, 60_000);
  afterAll(async () => {
    await consumer?.disconnect();
    await rabbitmq?.close();
    await stack?.stop();
  });

  it('When an order is paid, then OrderPaid keyed by the order id, with the lines sold, arrives on the order-events topic and the seller push command on RabbitMQ', async () => {
    const product = await createProduct(stack.order, 4_200, 'seller-msg');
    const res = await placeOrder(stack.order, { userId: `u-${randomUUID()}`, items: [{ productId: product.id, quantity: 2 }] }, randomUUID());
    expect(res.status).toBe(201);
    const order = (await res.json()) as OrderBody;
    expect(order.status).toBe('PAID');

    const message = await eventually(() => kafkaMessages.find((m) => m.key?.toString() === order.id), { timeoutMs: 20_000, what: 'OrderPaid on Kafka' });
    const event = OrderPaid.schema.parse(JSON.parse(String(message.value)));
    expect(event).toMatchObject({
      type: 'OrderPaid',
      aggregateId: order.id,
      payload: {
        orderId: order.id,
        sellerId: 'seller-msg',
        amountMinor: 8_400,
        paymentId: order.paymentKey,
        items: [{ productId: product.id, quantity: 2, unitPriceMinor: 4_200 }],
      },
    });

    const command = await eventually(() => commands.find((m) => m.content.toString().includes(order.id)), { timeoutMs: 20_000, what: 'SendPush on RabbitMQ' });
    expect(command.fields.routingKey).toBe(RoutingKeys.sendPush);
    const push = SendPush.schema.parse(JSON.parse(command.content.toString()));
    expect(push.payload).toMatchObject({ recipientId: 'seller-msg', data: { orderId: order.id } });

    // Marked published in the outbox once the brokers confirmed.
    await eventually(async () => ((await stack.sql.query(`SELECT count(*)::int AS n FROM outbox`)).rows[0].n === 0 ? true : undefined), {
      what: 'the outbox to be published',
    });
  });

  it('When a product is published and then updated, then each catalog event carries the product version and active, so a consumer can ignore an older one arriving late', async () => {
    const product = await createProduct(stack.order, 3_300, 'seller-versions');
    const patch = await fetch(`${stack.order.url}/products/${product.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...(await asAdmin()) },
      body: JSON.stringify({ version: 1, active: false }),
    });
    expect(patch.status).toBe(200);
    const events = await stack.sql.query(`SELECT payload FROM outbox_messages WHERE message_key = $1 ORDER BY id`, [product.id]);
    const parsed = events.rows.map((row: { payload: string }) => catalogEventSchema.parse(JSON.parse(row.payload)));
    expect(parsed.map((e) => [e.type, e.payload.productVersion, e.payload.active])).toEqual([
      ['ProductPublished', 1, true],
      ['ProductUpdated', 2, false],
    ]);
  });

  it('When asked if ready, then it reports Kafka and RabbitMQ up too', async () => {
    const res = await fetch(`${stack.order.url}/health/ready`);
    expect(res.status).toBe(200);
    await expect(res.json()).resolves.toMatchObject({ info: { kafka: { status: 'up' }, rabbitmq: { status: 'up' } } });
  });
});
