/**
 * A local HTTP server for the web tools' tests, on 127.0.0.1: each test gives its handler; the
 * server records the paths it was asked for, and closes every connection when it closes (handlers
 * that never answer included).
 */
import http from 'http';
import type { AddressInfo } from 'net';

export interface WebServer {
  port: number;
  /** http://127.0.0.1:<port><path> */
  url(path: string): string;
  /** the requests' paths (with query), in order */
  paths: string[];
  close(): Promise<void>;
}

export async function webServer(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void): Promise<WebServer> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    res.on('error', () => undefined); // a client that stops reading closes the socket mid-answer
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
