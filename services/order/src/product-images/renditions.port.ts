import type { WorkerTask } from '@conveyor/resilience';
import { Inject, Injectable } from '@nestjs/common';
import path from 'node:path';
import { CpuPool } from '../cpu-pool/cpu-pool.module';
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

/** Which task renders an image on the CPU pool: `renderRenditions` (a test's variant process replaces it). */
export type RenditionTask = WorkerTask<Uint8Array, RenderedImage>;
export const RENDITION_TASK = Symbol('RENDITION_TASK');

export const renderRenditionsTask: RenditionTask = {
  name: 'product-images',
  // The module of renderRenditions, as this file was loaded (.ts from source, .js when built).
  module: path.join(__dirname, 'domain', `renditions${path.extname(__filename)}`),
  export: renderRenditions.name,
};

/**
 * Renditions on the service's CPU pool (cpu-pool.ts): at most
 * ORDER_CPU_POOL_THREADS images render at once, ORDER_CPU_POOL_QUEUE more
 * wait; a rendering past ORDER_CPU_POOL_TASK_TIMEOUT_MS is cancelled (its
 * thread terminated). The event loop only hands bytes over.
 */
@Injectable()
export class PoolRenditions implements Renditions {
  constructor(
    private readonly pool: CpuPool,
    @Inject(RENDITION_TASK) private readonly task: RenditionTask,
  ) {}

  reserve(): RenditionSlot | undefined {
    const slot = this.pool.reserve(this.task);
    return slot && { render: (original) => slot.run(original), release: () => slot.release() };
  }
}
