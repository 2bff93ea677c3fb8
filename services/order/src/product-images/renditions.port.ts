import { APP_CONFIG } from '@conveyor/config';
import { WorkerPool } from '@conveyor/resilience';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import path from 'node:path';
import type { OrderConfig } from '../config';
import { renderRenditions, type RenderedImage } from './domain/renditions';

/** A place to render one image in, reserved before the upload is stored. */
export interface RenditionSlot {
  /** Renders the image; rejects when the rendering failed (bad image, dead thread, timeout). Frees the slot when done. */
  render(original: Uint8Array): Promise<RenderedImage>;
  /** Gives the slot back unused. */
  release(): void;
}

/** Where renditions are computed. */
export interface Renditions {
  /** A slot, or undefined at once when rendering is at its bound (the upload is then refused, 503). */
  reserve(): RenditionSlot | undefined;
}

export const RENDITIONS_PORT = Symbol('RENDITIONS_PORT');

/** The function the pool's threads run: a module path and its export. */
export interface RenditionTask {
  module: string;
  export: string;
}

/** Which {@link RenditionTask} the pool runs: `renderRenditions` (a test's variant process replaces it). */
export const RENDITION_TASK = Symbol('RENDITION_TASK');

export const renderRenditionsTask: RenditionTask = {
  // The module of renderRenditions, as this file was loaded (.ts from source, .js when built).
  module: path.join(__dirname, 'domain', `renditions${path.extname(__filename)}`),
  export: renderRenditions.name,
};

/**
 * Renditions on a worker pool (libs/resilience WorkerPool, piscina):
 * ORDER_IMAGE_RENDER_THREADS threads and ORDER_IMAGE_RENDER_QUEUE waiting
 * images at most; a rendering past ORDER_IMAGE_RENDER_TIMEOUT_MS is
 * cancelled (its thread terminated). The event loop only hands bytes over.
 */
@Injectable()
export class PoolRenditions implements Renditions, OnModuleDestroy {
  private readonly pool: WorkerPool<Uint8Array, RenderedImage>;

  constructor(@Inject(APP_CONFIG) config: OrderConfig, metrics: MetricsRegistry, @Inject(RENDITION_TASK) task: RenditionTask) {
    this.pool = new WorkerPool({
      name: 'product-images',
      ...task,
      threads: config.ORDER_IMAGE_RENDER_THREADS,
      queue: config.ORDER_IMAGE_RENDER_QUEUE,
      taskTimeoutMs: config.ORDER_IMAGE_RENDER_TIMEOUT_MS,
      registry: metrics,
    });
  }

  reserve(): RenditionSlot | undefined {
    const slot = this.pool.reserve();
    return slot && { render: (original) => slot.run(original), release: () => slot.release() };
  }

  onModuleDestroy(): Promise<void> {
    return this.pool.close();
  }
}
