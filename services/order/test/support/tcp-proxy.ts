import { freePort } from '@conveyor/testing';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy on a port of its own that can be taken away and brought back, like a server that stops and starts again. */
export interface TcpProxy {
  port: number;
  /** Stops listening and cuts every connection: clients get resets, then refused connections. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  };
  await listen();
  return {
    port,
    start: listen,
    async stop() {
      const listening = server;
      const closing = listening ? new Promise<void>((resolve) => listening.close(() => resolve())) : Promise.resolve();
      for (const socket of sockets) socket.resetAndDestroy();
      await closing;
      server = undefined;
    },
  };
}
