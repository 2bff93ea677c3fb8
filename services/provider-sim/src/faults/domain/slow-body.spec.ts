import { dribble } from './slow-body';

const pieces = async (payload: string | Buffer, chunks: number) => (await dribble(payload, chunks, 0).toArray()).map((c: Buffer) => c.toString());

describe('slow body', () => {
  it('When a body is dribbled in 4 chunks, then it comes whole, in 4 pieces of about equal size', async () => {
    const received = await pieces('type,payment_key\ncharge,pay_1\n', 4);
    expect(received).toHaveLength(4);
    expect(received.join('')).toBe('type,payment_key\ncharge,pay_1\n');
    expect(received.slice(0, -1).every((p) => p.length === received[0].length)).toBe(true);
  });

  it('When the body is shorter than the chunks asked for, then each byte is one piece; an empty body is none', async () => {
    await expect(pieces(Buffer.from('ab'), 4)).resolves.toEqual(['a', 'b']);
    await expect(pieces('', 3)).resolves.toEqual([]);
  });
});
