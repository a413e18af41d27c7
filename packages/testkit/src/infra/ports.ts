import net from 'node:net';

const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port that was free a moment ago on 127.0.0.1. Several servers are configured before any of them binds,
 * so ports already handed out by this process are never handed out again.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('test harness: could not find a free TCP port on 127.0.0.1');
}

/** Two free ports P and P+1, for servers that derive one port from the other. */
export async function freePortPair(): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    const second = first + 1;
    if (second <= 65535 && !handedOut.has(second) && (await bindable(second))) {
      handedOut.add(second);
      return [first, second];
    }
  }
  throw new Error('test harness: could not find two adjacent free TCP ports on 127.0.0.1');
}

/** Resolves true if something accepts TCP connections on host:port within `timeoutMs`. */
export function portAccepts(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Fails early, with a clear message, when a port we are about to reuse (on restart) is taken. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  if (await portAccepts(port)) {
    throw new Error(`${what}: port ${port} on 127.0.0.1 is already in use`);
  }
}
