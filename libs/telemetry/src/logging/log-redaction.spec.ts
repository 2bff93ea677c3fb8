import { Writable } from 'node:stream';
import pino from 'pino';
import { LOG_REDACT_PATHS } from './logging.module';

/** A pino logger with the services' redaction, writing into an array. */
function capturingLogger(): { logger: pino.Logger; output: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ redact: [...LOG_REDACT_PATHS] }, stream), output: () => chunks.join('') };
}

describe('log redaction', () => {
  const bearer = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl';
  const cardToken = 'tok_4242_secret_card';
  const verificationCode = '739104';

  it('When a request line carries credentials in its headers, then none of them is written', () => {
    const { logger, output } = capturingLogger();
    logger.info({
      req: {
        method: 'POST',
        url: '/orders',
        headers: { authorization: `Bearer ${bearer}`, cookie: 'session=abc123', 'x-api-key': 'key-987', 'content-type': 'application/json' },
      },
      res: { statusCode: 201, headers: { 'set-cookie': 'session=def456' } },
    });
    const line = JSON.parse(output()) as { req: { headers: Record<string, string>; url: string } };
    expect(output()).not.toMatch(new RegExp(`${bearer}|abc123|key-987|def456`));
    expect(line.req.headers.authorization).toBe('[Redacted]');
    // What is not a secret stays, or the line would be useless.
    expect(line.req.headers['content-type']).toBe('application/json');
    expect(line.req.url).toBe('/orders');
  });

  it('When a line includes tokens, card tokens or verification codes at any of three levels, then their values are not written', () => {
    const { logger, output } = capturingLogger();
    logger.warn({ cardToken, verificationCode, token: bearer }, 'top level');
    logger.warn({ command: { cardToken, verificationCode, accessToken: bearer } }, 'one level down');
    logger.warn({ order: { payment: { cardToken }, recipient: { verificationCode } } }, 'two levels down');
    const written = output();
    expect(written.split('\n').filter(Boolean)).toHaveLength(3);
    for (const secret of [bearer, cardToken, verificationCode]) expect(written).not.toContain(secret);
    expect(written).toContain('[Redacted]');
  });
});
