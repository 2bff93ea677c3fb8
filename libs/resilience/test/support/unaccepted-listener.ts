import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** A loopback port whose connects hang, as a partner behind a dead route or a full server looks. */
export interface UnacceptedListener {
  port: number;
  close(): Promise<void>;
}

// The child listens with the smallest backlog, prints its port, then blocks its
// event loop for good, so it never accept()s. Node turns backlog 0 into its
// default (511), hence 1.
const LISTENER = `
const server = require('node:net').createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});`;

function connectsWithin(port: number, ms: number): Promise<{ socket: Socket; connected: boolean }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ socket, connected: false }), ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ socket, connected: true });
    });
  });
}

/**
 * On Linux a connect completes in the kernel while the listener's accept queue
 * has room, whether or not the process ever accepts. Once the queue is full,
 * the kernel drops further SYNs (tcp_abort_on_overflow=0, the default) and the
 * client keeps retransmitting: the connect hangs, which is what a connect
 * timeout is for. So: a listener that never accepts, and its queue filled first.
 */
export async function unacceptedListener(): Promise<UnacceptedListener> {
  const child: ChildProcess = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  const sockets: Socket[] = [];
  for (let i = 0; i < 16; i += 1) {
    const { socket, connected } = await connectsWithin(port, 300);
    sockets.push(socket);
    if (!connected) break;
  }
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
