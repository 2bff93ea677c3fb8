import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { DownstreamRejectedError, DownstreamResponseTooLargeError, DownstreamTimeoutError } from '../src';
import { ClientPool, testClientOptions } from './support/clients';

/** A partner that behaves as `listener` says, on 127.0.0.1. */
async function partner(listener: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${address.port}`, server };
}

async function failure(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('ResilientHttpClient: a deadline per call, a cap per answer, a 4xx after a doubtful attempt', () => {
  const clients = new ClientPool();
  const servers: Server[] = [];
  afterEach(async () => {
    await clients.closeAll();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });
  const start = async (listener: RequestListener): Promise<string> => {
    const { url, server } = await partner(listener);
    servers.push(server);
    return url;
  };

  it('When the partner drips its answer so that no read timeout fires, then the call ends at its deadline with DEADLINE_EXCEEDED', async () => {
    const url = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const client = clients.create(testClientOptions(url, { readTimeoutMs: 1_000, deadlineMs: 400 }));
    const error = await failure(() => client.get('/drip'));
    expect(error).toBeInstanceOf(DownstreamTimeoutError);
    expect(error).toMatchObject({ phase: 'deadline', code: 'DOWNSTREAM.DEADLINE_EXCEEDED', attempts: 1 });
  }, 10_000);

  it('When the partner answers a body larger than the cap, then the call fails with RESPONSE_TOO_LARGE and is not retried', async () => {
    let requests = 0;
    const url = await start((_req, res) => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(256 * 1024));
    });
    const client = clients.create(testClientOptions(url, { maxResponseBytes: 64 * 1024 }));
    const error = await failure(() => client.get('/big'));
    expect(error).toBeInstanceOf(DownstreamResponseTooLargeError);
    expect(error).toMatchObject({ code: 'DOWNSTREAM.RESPONSE_TOO_LARGE', attempts: 1 });
    expect(requests).toBe(1);
  });

  it('When a keyed POST times out after sending and its retry answers 409, then the rejection says an earlier attempt may have been applied', async () => {
    let requests = 0;
    const url = await start((_req, res) => {
      requests += 1;
      if (requests === 1) return; // applied, never answered
      res.writeHead(409, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ code: 'IN_PROGRESS' }));
    });
    const client = clients.create(testClientOptions(url, { readTimeoutMs: 200, retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 10 } }));
    const error = await failure(() => client.post('/charge', { amount: 1 }, { idempotencyKey: 'k-1' }));
    expect(error).toBeInstanceOf(DownstreamRejectedError);
    expect(error).toMatchObject({ upstreamStatus: 409, attempts: 2, afterAmbiguousAttempt: true });
  });
});
