// The metrics' HTTP listener: `GET /metrics` in Prometheus' text format, 404 for anything else,
// bound to the configured address only. Each scrape is answered by `render` (bounded: the reads
// behind it have timeouts), and closing drops the connections a scraper keeps open.
import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.js';
import { listenText, type MetricsSettings } from './settings.js';

export interface Rendered {
  contentType: string;
  body: string;
}

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly settings: MetricsSettings,
  ) {}

  static async open(settings: MetricsSettings, render: () => Promise<Rendered>, log: Logger): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: GET /metrics\n');
        return;
      }
      render().then(
        (r) => res.writeHead(200, { 'content-type': r.contentType }).end(r.body),
        (e: Error) => {
          log.error({ err: e.message }, 'metrics: a scrape failed');
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${e.message}\n`);
        },
      );
    });
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(`metrics listener on ${listenText(settings)}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.message}`)),
      );
      server.listen({ host: settings.host, port: settings.port, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => log.error({ err: e.message }, 'metrics listener error'));
        resolve();
      });
    });
    return new MetricsServer(server, settings);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
