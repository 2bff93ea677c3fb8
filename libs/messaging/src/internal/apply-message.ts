import { envelopeHeaderSchema, type EventEnvelope } from '@conveyor/contracts';
import type { z } from 'zod';
import type { DataSource, EntityManager } from 'typeorm';
import { InvalidMessageError } from '../errors';

/** Parses a message body into an envelope and validates it; throws InvalidMessageError. */
export function parseEnvelope(body: Buffer | string | null, schema: z.ZodType | undefined): EventEnvelope {
  if (body === null || body.length === 0) throw new InvalidMessageError('empty message body');
  let json: unknown;
  try {
    json = JSON.parse(body.toString());
  } catch (error) {
    throw new InvalidMessageError(`body is not JSON: ${(error as Error).message}`);
  }
  const header = envelopeHeaderSchema.safeParse(json);
  if (!header.success) throw new InvalidMessageError(`not an event envelope: ${summarize(header.error)}`);
  if (!schema) return header.data as EventEnvelope;
  const full = schema.safeParse(json);
  if (!full.success) throw new InvalidMessageError(`${header.data.type} v${header.data.version} fails its schema: ${summarize(full.error)}`);
  return full.data as EventEnvelope;
}

function summarize(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Runs `work` in one transaction with the inbox insert of (consumer, message
 * id). A message seen before commits nothing and returns 'duplicate'. A
 * concurrent duplicate blocks on the primary key until the first commits,
 * then finds the row: the effect happens once either way.
 */
export async function applyOnce(
  dataSource: DataSource,
  consumer: string,
  messageId: string,
  work: (manager: EntityManager) => Promise<void>,
): Promise<'applied' | 'duplicate'> {
  return dataSource.transaction(async (manager) => {
    const inserted: unknown[] = await manager.query(`INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1`, [
      consumer,
      messageId,
    ]);
    if (inserted.length === 0) return 'duplicate';
    await work(manager);
    return 'applied';
  });
}
