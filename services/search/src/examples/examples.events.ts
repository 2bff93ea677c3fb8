import { defineEvent } from '@conveyor/contracts';
import { z } from 'zod';

// The example's messages. A contract other services read belongs in libs/contracts, the only shared vocabulary.

/** Consumed: asks for an example whose id is the envelope's aggregateId. */
export const ExampleRequested = defineEvent('search.ExampleRequested', 1, z.object({ name: z.string().trim().min(1).max(200) }));
