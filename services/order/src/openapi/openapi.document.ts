import { z } from 'zod';
import { createProductRequest, listProductsQuery, updateProductRequest } from '../catalog/products.dto';
import { placeOrderRequest } from '../orders/commands/place-order/place-order.request.dto';
import { ORDER_STATUSES } from '../orders/order.model';
import { exportOrdersQuery } from '../orders/queries/export-orders/export-orders.http.controller';
import { listOrdersQuery } from '../orders/queries/list-orders/list-orders.http.controller';

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). */
type JsonSchema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Partial<Record<Method, Operation>>>;
  components: { schemas: Record<string, JsonSchema> };
}

/** Request side of a zod DTO: what a client sends (defaults optional, coercions as their input). */
const input = (schema: z.ZodType): JsonSchema => {
  // Without `$schema`: 3.1 documents use JSON Schema 2020-12 already.
  const converted = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete converted.$schema;
  return converted;
};

/** Query parameters from a zod object's shape. */
const queryOf = (schema: { shape: Record<string, z.ZodType> }): Parameter[] =>
  Object.entries(schema.shape).map(([name, field]) => ({ name, in: 'query', required: !field.safeParse(undefined).success, schema: input(field) }));

const pathParam = (name: string, description: string): Parameter => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });

const orderView = z.object({
  id: z.uuid(),
  userId: z.string(),
  sellerId: z.string(),
  status: z.enum(ORDER_STATUSES),
  totalAmount: z.number().int(),
  currency: z.string(),
  paymentKey: z.string().nullable(),
  failureReason: z.string().nullable(),
  items: z.array(z.object({ productId: z.uuid(), quantity: z.number().int(), unitPrice: z.number().int() })),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});

const productView = z.object({
  id: z.uuid(),
  sku: z.string(),
  sellerId: z.string(),
  name: z.string(),
  description: z.string(),
  priceAmount: z.number().int(),
  currency: z.string(),
  active: z.boolean(),
  imageUrl: z.string().nullable(),
  version: z.number().int(),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});

const health: Operation['responses'] = {
  '200': { description: 'Up', content: json({ type: 'object' }) },
  '503': { description: 'A dependency is down', content: json({ type: 'object' }) },
};

/** The order service's HTTP API, served at `GET /openapi.json`; openapi.int-spec.ts checks it lists every route the app registers. */
export function buildOpenApiDocument(): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: { title: 'Conveyor order service', version: '1.0.0', description: 'Catalog, orders and their payment (docs/order-service.md).' },
    paths: {
      '/products': {
        post: {
          operationId: 'createProduct',
          summary: 'Creates a product (publishes ProductPublished).',
          tags: ['catalog'],
          requestBody: { required: true, content: json(input(createProductRequest)) },
          responses: { '201': { description: 'Created', content: json(ref('Product')) }, '400': problem('Invalid body'), '409': problem('SKU taken') },
        },
        get: {
          operationId: 'listProducts',
          summary: 'Lists active products.',
          tags: ['catalog'],
          parameters: queryOf(listProductsQuery),
          responses: {
            '200': { description: 'A page', content: json({ type: 'object', properties: { products: { type: 'array', items: ref('Product') } } }) },
          },
        },
      },
      '/products/{id}': {
        get: {
          operationId: 'getProduct',
          summary: 'One product.',
          tags: ['catalog'],
          parameters: [pathParam('id', 'Product id')],
          responses: { '200': { description: 'The product', content: json(ref('Product')) }, '404': problem('No such product') },
        },
        patch: {
          operationId: 'updateProduct',
          summary: 'Partial update if `version` is still current (publishes ProductUpdated).',
          tags: ['catalog'],
          parameters: [pathParam('id', 'Product id')],
          requestBody: { required: true, content: json(input(updateProductRequest)) },
          responses: {
            '200': { description: 'Updated', content: json(ref('Product')) },
            '404': problem('No such product'),
            '409': problem('Version conflict'),
          },
        },
      },
      '/products/{id}/image': {
        put: {
          operationId: 'setProductImage',
          summary: "Sets a product's image (raw bytes).",
          tags: ['catalog'],
          parameters: [pathParam('id', 'Product id')],
          requestBody: {
            required: true,
            content: Object.fromEntries(
              ['image/png', 'image/jpeg', 'image/webp'].map((type) => [type, { schema: { type: 'string', contentMediaType: type } }]),
            ),
          },
          responses: {
            '200': { description: 'The product with its imageUrl', content: json(ref('Product')) },
            '404': problem('No such product'),
            '415': problem('Not an image type'),
          },
        },
      },
      '/images/{name}': {
        get: {
          operationId: 'getImage',
          summary: 'A stored product image (content-addressed, immutable).',
          tags: ['catalog'],
          parameters: [pathParam('name', 'Content-addressed file name')],
          responses: { '200': { description: 'The image' }, '304': { description: 'Not modified' }, '404': problem('No such image') },
        },
      },
      '/orders': {
        post: {
          operationId: 'placeOrder',
          summary: 'Places and pays an order (publishes OrderPaid or OrderPaymentFailed).',
          tags: ['orders'],
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } }],
          requestBody: { required: true, content: json(input(placeOrderRequest)) },
          responses: {
            '201': { description: 'PAID or FAILED', content: json(ref('Order')) },
            '202': { description: 'Outcome not known yet (UNKNOWN); the reconciler settles it', content: json(ref('Order')) },
            '400': problem('Invalid body or missing Idempotency-Key'),
            '409': problem('Idempotency-Key reused with another body, or still in progress'),
            '422': problem('Unknown/inactive product, mixed currencies or sellers'),
            '503': problem('Payments unavailable; nothing charged'),
          },
        },
        get: {
          operationId: 'listOrders',
          summary: "A user's orders, newest first, cursor-paginated.",
          tags: ['orders'],
          parameters: queryOf(listOrdersQuery),
          responses: {
            '200': {
              description: 'A page',
              content: json({ type: 'object', properties: { orders: { type: 'array', items: ref('Order') }, nextCursor: { type: ['string', 'null'] } } }),
            },
            '400': problem('Invalid query'),
          },
        },
      },
      '/orders/export.csv': {
        get: {
          operationId: 'exportOrders',
          summary: 'Orders created in [from, to) as CSV, streamed.',
          tags: ['orders'],
          parameters: queryOf(exportOrdersQuery),
          responses: { '200': { description: 'CSV', content: { 'text/csv': { schema: { type: 'string' } } } }, '400': problem('Invalid range') },
        },
      },
      '/orders/{id}': {
        get: {
          operationId: 'getOrder',
          summary: 'One order.',
          tags: ['orders'],
          parameters: [pathParam('id', 'Order id')],
          responses: { '200': { description: 'The order', content: json(ref('Order')) }, '404': problem('No such order') },
        },
      },
      '/orders/{id}/cancel': {
        post: {
          operationId: 'cancelOrder',
          summary: 'Cancels an order, refunding a paid one (publishes OrderCancelled).',
          tags: ['orders'],
          parameters: [pathParam('id', 'Order id')],
          responses: {
            '200': { description: 'Cancelled', content: json(ref('Order')) },
            '404': problem('No such order'),
            '409': problem('Not cancellable in its state'),
          },
        },
      },
      '/health/live': { get: { operationId: 'live', summary: 'Liveness.', tags: ['operations'], responses: health } },
      '/health/ready': { get: { operationId: 'ready', summary: 'Readiness: PostgreSQL, Redis, Kafka, RabbitMQ.', tags: ['operations'], responses: health } },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics.',
          tags: ['operations'],
          responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document.',
          tags: ['operations'],
          responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } },
        },
      },
    },
    components: {
      schemas: {
        Order: input(orderView),
        Product: input(productView),
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
          },
        },
      },
    },
  };
}
