import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sends `payload` in `chunks` pieces (fewer if it is shorter), the first at once, then one every `delayMs`. */
export function dribble(payload: string | Buffer, chunks: number, delayMs: number): Readable {
  const buffer = Buffer.from(payload);
  const size = Math.ceil(buffer.length / chunks) || 1;
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < buffer.length; offset += size) {
        if (offset > 0) await sleep(delayMs);
        yield buffer.subarray(offset, offset + size);
      }
    })(),
  );
}
