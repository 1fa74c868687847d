import { createServer } from 'node:net';

/**
 * A port free on 127.0.0.1 right now. The kernel may hand it out again before the caller binds
 * it, so callers that can should bind port 0 themselves; servers we spawn (Temporal, rclone…)
 * need a number up front.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
