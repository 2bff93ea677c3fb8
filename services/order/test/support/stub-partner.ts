import { PROBLEM_JSON } from '@conveyor/testing';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One request as the stub saw it, body parsed as JSON when it is JSON. */
export interface StubRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** What the stub does with a request: answer it (`res`), or leave it hanging (answer nothing). */
export type StubHandler = (request: StubRequest, res: ServerResponse) => void;

/**
 * A partner that misbehaves in ways provider-sim cannot (a 409 on the retry of
 * a committed charge, an ingress 404): a plain HTTP server on 127.0.0.1 whose
 * behaviour the test sets with `handle`.
 */
export interface StubPartner {
  url: string;
  handle: StubHandler;
  stop(): Promise<void>;
}

export async function startStubPartner(handle: StubHandler): Promise<StubPartner> {
  const sockets = new Set<Socket>();
  const stub: StubPartner = {
    url: '',
    handle,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: kept as text
      }
      stub.handle({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body }, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('stub partner has no port');
  stub.url = `http://127.0.0.1:${address.port}`;
  return stub;
}

/** Answers `status` with a JSON (problem+json for >= 400) body. */
export function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': status >= 400 ? PROBLEM_JSON : 'application/json' });
  res.end(JSON.stringify(body));
}
