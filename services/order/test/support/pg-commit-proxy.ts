import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

/**
 * What happens to the next COMMIT of a transaction that sent every marker:
 * - `ack-lost`: PostgreSQL gets the COMMIT (it commits), the answer is dropped
 *   and the connection reset: the service sees an error after a commit that held;
 * - `write-lost`: the connection is reset before the COMMIT reaches PostgreSQL
 *   (it rolls back): the write failed.
 */
export type CommitFault = 'ack-lost' | 'write-lost';

/** A TCP proxy in front of the local PostgreSQL that can break one COMMIT, the way a lost connection does. */
export interface PgCommitProxy {
  port: number;
  /** COMMITs broken so far. */
  readonly broken: number;
  /** Breaks the next COMMIT of a transaction whose statements (text or parameters) contained every marker; resolves when it has. */
  breakNextCommit(fault: CommitFault, markers: string[]): Promise<void>;
  stop(): Promise<void>;
}

// A simple-protocol Query message carrying COMMIT (how TypeORM and pg send it).
const COMMIT = Buffer.from('COMMIT\0');
const ROLLBACK = Buffer.from('ROLLBACK\0');

export async function startPgCommitProxy(target: { host: string; port: number }): Promise<PgCommitProxy> {
  let armed: { fault: CommitFault; markers: string[]; done: () => void } | undefined;
  let broken = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    let transaction = ''; // what the client sent since its last COMMIT/ROLLBACK
    let dropAnswer = false;
    const kill = (): void => {
      client.resetAndDestroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      transaction += chunk.toString('latin1');
      const trap = armed;
      if (chunk.includes(COMMIT) && trap && trap.markers.every((m) => transaction.includes(m))) {
        armed = undefined;
        transaction = '';
        broken += 1;
        if (trap.fault === 'write-lost') {
          kill();
        } else {
          dropAnswer = true;
          upstream.write(chunk);
        }
        trap.done();
        return;
      }
      if (chunk.includes(COMMIT) || chunk.includes(ROLLBACK)) transaction = '';
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropAnswer) return kill();
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => kill());
      socket.on('close', () => {
        sockets.delete(socket);
        kill();
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    get broken() {
      return broken;
    },
    breakNextCommit: (fault, markers) => new Promise<void>((resolve) => (armed = { fault, markers, done: resolve })),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
