/**
 * A tiny forward proxy on loopback for the proxy tests: CONNECT tunnels (undici's ProxyAgent tunnels
 * http:// and https:// alike) and absolute-URL requests, each logged. Errors end the one connection,
 * never the test process.
 */
import http from 'http';
import net from 'net';
import type { AddressInfo } from 'net';

export interface ProxyServer {
  url: string;
  /** `CONNECT host:port` or `GET http://…`, in arrival order */
  log: string[];
  close(): Promise<void>;
}

export async function startProxyServer(): Promise<ProxyServer> {
  const log: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    try {
      const up = http.request(req.url!, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    } catch {
      res.writeHead(400).end();
    }
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    log.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up).add(client);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    up.on('close', () => sockets.delete(up));
    client.on('close', () => sockets.delete(client));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
