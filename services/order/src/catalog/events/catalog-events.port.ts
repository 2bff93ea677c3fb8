import { InjectConfig } from '@conveyor/config';
import { ProductPublished, ProductUpdated } from '@conveyor/contracts';
import { addToOutbox, eventMessage } from '@conveyor/messaging';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { OrderConfig } from '../../config';
import type { ProductView } from '../product.model';

/**
 * The catalog events (Kafka `catalog.events`, key = product id) search and
 * others read. Called inside the transaction of the change, with its manager,
 * so the event commits with the change or not at all.
 */
export interface CatalogEvents {
  productPublished(manager: EntityManager, product: ProductView): Promise<void>;
  productUpdated(manager: EntityManager, product: ProductView): Promise<void>;
}

export const CATALOG_EVENTS = Symbol('CATALOG_EVENTS');

const fields = (p: ProductView) => ({
  productId: p.id,
  sellerId: p.sellerId,
  name: p.name,
  description: p.description,
  priceMinor: p.priceAmount,
  currency: p.currency,
  active: p.active,
  productVersion: p.version,
});

/** CatalogEvents through the transactional outbox of libs/messaging. */
@Injectable()
export class OutboxCatalogEvents implements CatalogEvents {
  // CATALOG_EVENTS_TOPIC (default: the libs/contracts name), so tests can use their own.
  private readonly catalogEvents: { kind: 'kafka'; topic: string };

  constructor(@InjectConfig() config: Pick<OrderConfig, 'CATALOG_EVENTS_TOPIC'>) {
    this.catalogEvents = { kind: 'kafka', topic: config.CATALOG_EVENTS_TOPIC };
  }

  async productPublished(manager: EntityManager, product: ProductView): Promise<void> {
    await addToOutbox(manager, eventMessage(this.catalogEvents, ProductPublished.create(product.id, fields(product))));
  }

  /** The whole new state, so consumers need no ordering across fields. */
  async productUpdated(manager: EntityManager, product: ProductView): Promise<void> {
    await addToOutbox(manager, eventMessage(this.catalogEvents, ProductUpdated.create(product.id, fields(product))));
  }
}
