import { InjectConfig } from '@conveyor/config';
import { addToOutbox, eventMessage, type OutboxDestination } from '@conveyor/messaging';
import { inTransaction } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { DataSource, type EntityManager } from 'typeorm';
import type { NotificationConfig } from '../config';
import type { CreateExampleRequest, ExampleView } from './examples.dto';
import { ExampleNotFound } from './examples.errors';
import { ExampleCreated } from './examples.events';

interface ExampleRow {
  id: string;
  name: string;
  created_at: Date;
}

const toView = (row: ExampleRow): ExampleView => ({ id: row.id, name: row.name, createdAt: row.created_at.toISOString() });
const uuid = z.uuid();

/** The example feature's use cases; replace them with your service's own. */
@Injectable()
export class ExamplesService {
  private readonly events: OutboxDestination;

  constructor(
    private readonly dataSource: DataSource,
    @InjectConfig() config: NotificationConfig,
  ) {
    this.events = { kind: 'kafka', topic: config.NOTIFICATION_EVENTS_TOPIC };
  }

  create(request: CreateExampleRequest): Promise<ExampleView> {
    return inTransaction(this.dataSource, (manager) => this.createWith(manager, randomUUID(), request));
  }

  /** Inside the caller's transaction (a consumer's: its inbox row commits with the example). */
  async createWith(manager: EntityManager, id: string, request: CreateExampleRequest): Promise<ExampleView> {
    const [row]: ExampleRow[] = await manager.query('INSERT INTO examples (id, name) VALUES ($1, $2) RETURNING *', [id, request.name]);
    const example = toView(row);
    // Published once this transaction commits, never if it rolls back.
    await addToOutbox(manager, eventMessage(this.events, ExampleCreated.create(example.id, { name: example.name })));
    return example;
  }

  async get(id: string): Promise<ExampleView> {
    // What is not a uuid cannot be an example: the same 404, without a query that would fail on the cast.
    if (!uuid.safeParse(id).success) throw new ExampleNotFound(id);
    const [row]: ExampleRow[] = await this.dataSource.query('SELECT * FROM examples WHERE id = $1', [id]);
    if (!row) throw new ExampleNotFound(id);
    return toView(row);
  }
}
