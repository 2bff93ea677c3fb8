import {
  ancestry,
  eventually,
  PROBLEM_JSON,
  newTraceparent,
  parentSpan,
  spanService,
  waitForTraceById,
  startServiceProcess,
  type ServiceProcess,
} from '@conveyor/testing';
import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { HANGING_WIDTH, THREAD_KILLING_WIDTH } from './support/misbehaving-renditions';
import { asAdmin, createProduct, startOrderStack, type OrderStack } from './support/order-stack';

// The order process exports its spans to the local Jaeger, so the worker's span can be found under the upload.
const TRACED = { OTEL_SDK_DISABLED: 'false', OTEL_TRACES_SAMPLER_ARG: '1' };

interface ImageBody {
  id: string;
  productId: string;
  status: 'pending' | 'ready' | 'failed';
  width: number | null;
  height: number | null;
  placeholder: string | null;
  palette: string[] | null;
  failureReason: string | null;
  renditions: Record<string, { url: string; contentType: string; width: number; height: number; sizeBytes: number }>;
}

/** A PNG of this size with some structure (a gradient with noise), so every rendition has real work to do. */
async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 }, noise: { type: 'gaussian', mean: 128, sigma: 30 } } })
    .png()
    .toBuffer();
}

async function upload(
  order: ServiceProcess,
  productId: string,
  body: Buffer,
  contentType = 'image/png',
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${order.url}/products/${productId}/images`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(await asAdmin()), ...headers },
    body: new Uint8Array(body),
  });
}

const getImage = async (order: ServiceProcess, location: string): Promise<ImageBody> => (await (await fetch(`${order.url}${location}`)).json()) as ImageBody;

/** Polls the image until it is no longer pending. */
const settled = (order: ServiceProcess, location: string, what: string): Promise<ImageBody> =>
  eventually(
    async () => {
      const image = await getImage(order, location);
      return image.status === 'pending' ? undefined : image;
    },
    { timeoutMs: 30_000, intervalMs: 100, what },
  );

describe('Product images', () => {
  let stack: OrderStack;
  let productId: string;
  beforeAll(async () => {
    stack = await startOrderStack(TRACED);
    productId = (await createProduct(stack.order, 1_000)).id;
  }, 120_000);
  afterAll(() => stack?.stop());

  it('When an admin uploads a PNG, then it answers 202 pending with a Location, and the image turns ready with a thumbnail and a WebP rendition', async () => {
    const res = await upload(stack.order, productId, await png(1200, 800));
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as ImageBody;
    expect(accepted).toMatchObject({ productId, status: 'pending', palette: null, renditions: {} });
    const location = res.headers.get('location');
    expect(location).toBe(`/products/${productId}/images/${accepted.id}`);

    const ready = await settled(stack.order, location ?? '', 'the image to be rendered');
    expect(ready).toMatchObject({ status: 'ready', width: 1200, height: 800, failureReason: null });
    expect(ready.placeholder).toMatch(/^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{20,}$/); // a 4×3 BlurHash
    expect(ready.palette).toEqual(expect.arrayContaining([expect.stringMatching(/^#[0-9a-f]{6}$/)]));
    expect(ready.palette?.length).toBeLessThanOrEqual(5);
    expect(ready.renditions['thumbnail']).toMatchObject({ url: `${location}/thumbnail`, contentType: 'image/webp', width: 160, height: 107 });
    expect(ready.renditions['webp']).toMatchObject({ url: `${location}/webp`, contentType: 'image/webp', width: 1024, height: 683 });

    const thumbnail = await fetch(`${stack.order.url}${ready.renditions['thumbnail'].url}`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/webp');
    expect(thumbnail.headers.get('cache-control')).toContain('immutable');
    const meta = await sharp(Buffer.from(await thumbnail.arrayBuffer())).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: 160, height: 107 });
  }, 60_000);

  it("When a product shot on a white background is uploaded, then its palette is the product's colours, the largest first, without the white", async () => {
    // White, with a red block on 36% of the image and a blue one on 9%.
    const block = (size: number, r: number, g: number, b: number) =>
      sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
        .png()
        .toBuffer();
    const shot = await sharp({ create: { width: 500, height: 500, channels: 3, background: '#ffffff' } })
      .composite([
        { input: await block(300, 200, 30, 30), left: 20, top: 20 },
        { input: await block(150, 30, 60, 190), left: 340, top: 340 },
      ])
      .png()
      .toBuffer();
    const res = await upload(stack.order, productId, shot);
    expect(res.status).toBe(202);
    const ready = await settled(stack.order, res.headers.get('location') ?? '', 'the product shot to be rendered');
    expect(ready.status).toBe('ready');

    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const near = (hex: string, [r, g, b]: number[]) => Math.hypot(...rgb(hex).map((v, i) => v - [r, g, b][i])) < 40;
    const palette = ready.palette ?? [];
    expect({
      palette,
      firstIsRed: near(palette[0] ?? '#000000', [200, 30, 30]),
      hasBlue: palette.some((hex) => near(hex, [30, 60, 190])),
      whites: palette.filter((hex) => near(hex, [255, 255, 255])),
    }).toEqual({ palette: expect.any(Array), firstIsRed: true, hasBlue: true, whites: [] });
  }, 60_000);

  it('When the bytes start like a PNG but do not decode, then that image fails alone and the next upload is ready', async () => {
    const broken = Buffer.concat([(await png(64, 64)).subarray(0, 40), Buffer.alloc(200, 7)]);
    const bad = await upload(stack.order, productId, broken);
    expect(bad.status).toBe(202);
    const good = await upload(stack.order, productId, await png(300, 300));
    expect(good.status).toBe(202);

    const failed = await settled(stack.order, bad.headers.get('location') ?? '', 'the broken image to settle');
    expect(failed.status).toBe('failed');
    expect(failed.failureReason).toContain('product-images: task failed');
    expect(failed.renditions).toEqual({});
    const fine = await settled(stack.order, good.headers.get('location') ?? '', 'the good image to settle');
    expect(fine.status).toBe('ready');

    const rendition = await fetch(`${stack.order.url}${bad.headers.get('location')}/thumbnail`);
    expect(rendition.status).toBe(409);
    expect(rendition.headers.get('content-type')).toContain(PROBLEM_JSON);
    expect(await rendition.json()).toMatchObject({ code: 'PRODUCT_IMAGE.RENDITION_NOT_READY', status: 409 });
  }, 60_000);

  it('When an upload is not an image of an accepted type, of no product, or without an admin, then it is refused with problem+json and its code', async () => {
    const image = await png(32, 32);
    const stored = async () =>
      (await stack.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM product_image_uploads WHERE product_id = $1', [productId])).rows[0].n;
    const before = await stored();
    const cases: [Promise<Response>, number, string][] = [
      [upload(stack.order, productId, Buffer.from('just text'), 'text/plain'), 415, 'PRODUCT_IMAGE.UNSUPPORTED_TYPE'],
      [upload(stack.order, productId, await sharp(image).jpeg().toBuffer(), 'image/png'), 400, 'PRODUCT_IMAGE.NOT_OF_DECLARED_TYPE'],
      [upload(stack.order, productId, Buffer.alloc(0), 'image/webp'), 400, 'PRODUCT_IMAGE.NOT_OF_DECLARED_TYPE'],
      [upload(stack.order, '00000000-0000-4000-8000-000000000000', image), 404, 'PRODUCT.NOT_FOUND'],
      [upload(stack.order, 'not-a-uuid', image), 404, 'PRODUCT.NOT_FOUND'],
      [
        fetch(`${stack.order.url}/products/${productId}/images`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(image) }),
        401,
        'AUTH.TOKEN_MISSING',
      ],
      [fetch(`${stack.order.url}/products/${productId}/images/00000000-0000-4000-8000-000000000000`), 404, 'PRODUCT_IMAGE.NOT_FOUND'],
      [fetch(`${stack.order.url}/products/${productId}/images/00000000-0000-4000-8000-000000000000/original`), 404, 'PRODUCT_IMAGE.NOT_FOUND'],
    ];
    for (const [response, status, code] of cases) {
      const res = await response;
      expect({ status: res.status, type: res.headers.get('content-type'), code: ((await res.json()) as { code: string }).code }).toEqual({
        status,
        type: expect.stringContaining(PROBLEM_JSON),
        code,
      });
    }
    expect(await stored()).toBe(before);
  }, 60_000);

  it("When an image is rendered, then the pool's threads and libvips's run ORDER_CPU_POOL_NICE (10) below the event loop; the loop's other threads do not", async () => {
    const res = await upload(stack.order, productId, await png(800, 600), 'image/png');
    expect(res.status).toBe(202);
    await settled(stack.order, res.headers.get('location') ?? '', 'an image to be rendered');
    // Linux: each thread of the service process, its name and its nice value (field 19 of its stat).
    const pid = stack.order.child.pid;
    const threads = readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return [{ tid: Number(tid), name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]) }];
      } catch {
        return []; // gone meanwhile
      }
    });
    const loopNice = threads.find((t) => t.tid === pid)?.nice ?? NaN;
    const niceOf = (name: string) => [...new Set(threads.filter((t) => t.name === name).map((t) => t.nice))];
    expect(niceOf('libvips worker')).toEqual([Math.min(19, loopNice + 10)]);
    expect(niceOf('WorkerThread')).toEqual([Math.min(19, loopNice + 10)]);
    // libuv's threadpool serves the loop's own file, DNS and zlib work too: left at the loop's priority.
    expect(niceOf('libuv-worker')).toEqual([loopNice]);
  }, 60_000);

  it("When an image is rendered, then the worker's span is in the upload's trace, a child of the request span", async () => {
    const { traceId, traceparent } = newTraceparent();
    const res = await upload(stack.order, productId, await png(640, 480), 'image/png', { traceparent });
    expect(res.status).toBe(202);
    await settled(stack.order, res.headers.get('location') ?? '', 'the traced image to be rendered');

    const trace = await waitForTraceById(traceId, (t) => t.spans.some((s) => s.operationName === 'product-images task'));
    const task = trace.spans.find((s) => s.operationName === 'product-images task');
    if (!task) throw new Error('no worker span');
    expect(spanService(trace, task)).toBe('order');
    expect(parentSpan(trace, task)?.operationName).toBe('POST /products/:productId/images');
    expect(ancestry(trace, task).at(-1)?.traceID).toBe(traceId);
    expect(task.tags.find((t) => t.key === 'thread.id')?.value).toEqual(expect.any(Number));
  }, 60_000);

  describe('with one rendering thread, no queue, and a task that hangs or kills its thread on request', () => {
    let variant: ServiceProcess;
    beforeAll(async () => {
      variant = await startServiceProcess('services/order/test/support/misbehaving-renditions.main.ts', {
        ...stack.orderEnv,
        OTEL_SDK_DISABLED: 'true',
        ORDER_CPU_POOL_THREADS: '1',
        ORDER_CPU_POOL_QUEUE: '0',
        ORDER_CPU_POOL_TASK_TIMEOUT_MS: '3000',
        ORDER_IMAGE_RENDER_RETRY_AFTER_S: '7',
        ORDER_RECONCILE_INTERVAL_MS: '0',
      });
    }, 60_000);
    afterAll(() => variant?.stop());

    it('When the one thread is taken by a hanging image, then the next upload answers 503 with Retry-After and stores nothing; the hanging image is cancelled and failed, and uploads are taken again', async () => {
      const hanging = await upload(variant, productId, await png(HANGING_WIDTH, 10));
      expect(hanging.status).toBe(202);
      const hangingImage = (await hanging.json()) as ImageBody;

      const refused = await upload(variant, productId, await png(100, 100));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('7');
      expect(refused.headers.get('content-type')).toContain(PROBLEM_JSON);
      expect(await refused.json()).toMatchObject({ code: 'PRODUCT_IMAGE.RENDERING_BUSY', status: 503 });
      const pending = await fetch(`${variant.url}/products/${productId}/images/${hangingImage.id}/webp`);
      expect(await pending.json()).toMatchObject({ code: 'PRODUCT_IMAGE.RENDITION_NOT_READY', status: 409 });
      const { rows } = await stack.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM product_image_uploads WHERE product_id = $1 AND width IS NULL AND created_at >= (SELECT created_at FROM product_image_uploads WHERE id = $2)`,
        [productId, hangingImage.id],
      );
      expect(rows[0].n).toBe(1); // the hanging one only

      const cancelled = await settled(variant, `/products/${productId}/images/${hangingImage.id}`, 'the hanging image to be cancelled');
      expect(cancelled.status).toBe('failed');
      expect(cancelled.failureReason).toBe('product-images: task cancelled after 3000 ms');

      const next = await upload(variant, productId, await png(100, 100));
      expect(next.status).toBe(202);
      expect((await settled(variant, next.headers.get('location') ?? '', 'the next image')).status).toBe('ready');
    }, 60_000);

    it('When a rendering kills its thread, then that image fails alone and the next one is rendered on a new thread', async () => {
      const killing = await upload(variant, productId, await png(THREAD_KILLING_WIDTH, 10));
      expect(killing.status).toBe(202);
      const failed = await settled(variant, killing.headers.get('location') ?? '', 'the thread-killing image');
      expect(failed.status).toBe('failed');
      expect(failed.failureReason).toContain('product-images: task failed');

      const next = await upload(variant, productId, await png(120, 90));
      expect(next.status).toBe(202);
      expect(await settled(variant, next.headers.get('location') ?? '', 'the image after the crash')).toMatchObject({
        status: 'ready',
        width: 120,
        height: 90,
      });
    }, 60_000);
  });
});
