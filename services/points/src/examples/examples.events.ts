import { defineEvent } from '@conveyor/contracts';
import { z } from 'zod';

// The example's messages. A contract other services read belongs in libs/contracts, the only shared vocabulary.

/** Published through the outbox when an example is created (key: its id). */
export const ExampleCreated = defineEvent('points.ExampleCreated', 1, z.object({ name: z.string() }));

/** Consumed: asks for an example whose id is the envelope's aggregateId. */
export const ExampleRequested = defineEvent('points.ExampleRequested', 1, z.object({ name: z.string().trim().min(1).max(200) }));
