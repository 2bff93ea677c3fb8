import { serviceAsyncApi } from '@conveyor/contracts';
import { Parser } from '@asyncapi/parser';
import path from 'node:path';
import { buildAsyncApiDocument } from './asyncapi-document';
import { checkContracts, readServiceSources, scanSources, type ServiceSource } from './inventory';

const root = path.resolve(__dirname, '..', '..');

// Sources of a made-up system: order produces OrderPaid; search and points consume what the cases say.
const producer: ServiceSource = {
  service: 'order',
  path: 'services/order/src/orders/events/order-events.port.ts',
  text: `
    import { addToOutbox, eventMessage } from '@conveyor/messaging';
    import { OrderPaid as Paid, ProductPublished } from '@conveyor/contracts';
    import * as contracts from '@conveyor/contracts';
    export async function paid(manager, dest, order) {
      const event = Paid.create(order.id, order);
      await addToOutbox(manager, [eventMessage(dest, event), eventMessage(dest, contracts.OrderCancelled.create(order.id, order))]);
      await addToOutbox(manager, eventMessage(dest, ProductPublished.create(order.id, order)));
    }`,
};
const consumerModule = (service: string, schemas: string): ServiceSource => ({
  service,
  path: `services/${service}/src/app.module.ts`,
  text: `
    import { ${schemas} } from '@conveyor/contracts';
    export const appModule = (config) => ChassisModule.forRoot({ kafkaConsumer: { topics: [config.T], schemas: { [config.T]: ${schemas} } } });`,
});
const handler = (service: string, pattern: string): ServiceSource => ({
  service,
  path: `services/${service}/src/consumer.ts`,
  text: `
    import { OrderPaid, OrderCancelled, OrderPaymentFailed, SendSms } from '@conveyor/contracts';
    @MessageConsumer()
    export class Consumer {
      @EventPattern(${pattern})
      handle() {}
    }`,
});

describe('the contract inventory (make contracts)', () => {
  it('When a service handles an event that no service writes to its outbox, then it is an orphan, named with its handler', () => {
    const inventory = scanSources([producer, consumerModule('search', 'orderEventSchema'), handler('search', 'OrderPaymentFailed.type')]);
    const report = checkContracts(inventory);
    expect(report.orphans).toEqual([{ service: 'search', type: 'OrderPaymentFailed', where: 'services/search/src/consumer.ts:5' }]);
  });

  it('When the producer imports a contract under another name or as a namespace, then its events are still read as produced', () => {
    const inventory = scanSources([
      producer,
      consumerModule('search', 'orderEventSchema'),
      handler('search', 'OrderPaid.type'),
      handler('points', "'OrderCancelled'"),
    ]);
    expect(inventory.produced.map((p) => p.type).sort()).toEqual(['OrderCancelled', 'OrderPaid', 'ProductPublished']);
    expect(checkContracts(inventory).orphans).toEqual([]);
  });

  it('When a service handles an event of a channel its consumer options do not register, then the check says the handler is never fed', () => {
    const report = checkContracts(scanSources([producer, consumerModule('search', 'catalogEventSchema'), handler('search', 'OrderPaid.type')]));
    expect(report.problems).toContainEqual(
      expect.stringContaining("search handles OrderPaid (services/search/src/consumer.ts:5) but its consumer options do not register orderEvents's schema"),
    );
  });

  it('When a service writes an event to its outbox that no contract made, or handles a computed pattern, then the check cannot read it and fails', () => {
    const rogue: ServiceSource = {
      service: 'points',
      path: 'services/points/src/rogue.ts',
      text: `
        import { addToOutbox, eventMessage } from '@conveyor/messaging';
        export async function rogue(manager, dest, name) {
          await addToOutbox(manager, eventMessage(dest, { type: 'PointsGifted', payload: {} }));
          await addToOutbox(manager, { destination: dest, key: 'k', payload: { type: 'PointsGifted' } });
        }
        class C { @EventPattern(name) handle() {} }`,
    };
    const report = checkContracts(scanSources([producer, rogue]));
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          "points: eventMessage(…, { type: 'PointsGifted', payload: {} }) is not an event made by the create() of a contract of @conveyor/contracts",
        ),
        expect.stringContaining('points: addToOutbox(…, { destination: dest'),
        expect.stringContaining('points: @EventPattern(name) names no contract of @conveyor/contracts'),
      ]),
    );
  });

  it('When a service handles a type that no channel of libs/contracts carries, then the check says so', () => {
    const report = checkContracts(scanSources([producer, handler('search', "'OrderShipped'")]));
    expect(report.problems).toContainEqual(
      expect.stringContaining('search handles OrderShipped (services/search/src/consumer.ts:5), which no channel of libs/contracts carries'),
    );
  });

  it('When the services of this repository are read, then every consumed event has a producer and nothing is unreadable', () => {
    const report = checkContracts(scanSources(readServiceSources(root)));
    expect(report.orphans).toEqual([]);
    expect(report.problems).toEqual([]);
    expect(report.consumed).toBeGreaterThan(0);
  });
});

describe('the AsyncAPI document', () => {
  const document = buildAsyncApiDocument(scanSources(readServiceSources(root)));
  const errors = async (doc: object) => (await new Parser().parse(JSON.stringify(doc))).diagnostics.filter((d) => d.severity === 0).map((d) => d.message);

  it('When the document of this repository is parsed by @asyncapi/parser, then it is valid AsyncAPI 3.0, and so is each service part', async () => {
    await expect(errors(document)).resolves.toEqual([]);
    await expect(errors(serviceAsyncApi('points', document))).resolves.toEqual([]);
  });

  it('When a document breaks AsyncAPI 3.0, then the parser reports it (the check would fail it)', async () => {
    const operations = document['operations'] as Record<string, Record<string, unknown>>;
    const [first] = Object.keys(operations);
    const broken = { ...document, operations: { ...operations, [first]: { ...operations[first], action: 'publish' } } };
    await expect(errors(broken)).resolves.not.toEqual([]);
  });

  it("When a service's part is taken, then it has only that service's operations, their channels and their messages", () => {
    const points = serviceAsyncApi('points', document) as {
      operations: Record<string, unknown>;
      channels: Record<string, unknown>;
      components: { messages: Record<string, unknown> };
    };
    expect(Object.keys(points.operations).sort()).toEqual(['points_receive_orderEvents', 'points_send_notificationPush', 'points_send_pointsEvents']);
    expect(Object.keys(points.channels).sort()).toEqual(['notificationPush', 'orderEvents', 'pointsEvents']);
    expect(Object.keys(points.components.messages)).toEqual(expect.arrayContaining(['OrderPaid', 'PointsAwarded', 'SendPush']));
    expect(Object.keys(points.components.messages)).not.toContain('ProductPublished');
  });

  it('When a message is described, then it has its key, the trace headers and the payload schema of its zod contract', () => {
    const messages = (document['components'] as { messages: Record<string, { payload: { properties: Record<string, unknown> }; bindings: unknown }> }).messages;
    expect(messages['OrderPaid'].payload.properties['type']).toEqual({ type: 'string', const: 'OrderPaid' });
    expect(messages['OrderPaid'].bindings).toEqual({ kafka: { key: { type: 'string', description: 'order id' }, bindingVersion: '0.5.0' } });
    const headers = (document['components'] as { schemas: { MessageHeaders: { properties: Record<string, unknown> } } }).schemas.MessageHeaders;
    expect(Object.keys(headers.properties)).toEqual(expect.arrayContaining(['traceparent', 'message-id']));
  });
});
