// The metrics' HTTP listener, bound to the configured address only: `GET /metrics` in Prometheus'
// text format, `GET /` the status page and `GET /status.json` what it shows; 404 for any other
// path, 405 for any method but GET and HEAD (nothing here changes anything). Each answer comes from
// its route (bounded: the reads behind it have timeouts); closing drops the connections kept open.
import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.js';
import { listenText, type MetricsSettings } from './settings.js';

export interface Rendered {
  contentType: string;
  body: string;
}

/** Path → what answers it. */
export type Routes = Record<string, () => Promise<Rendered>>;

const text = { 'content-type': 'text/plain; charset=utf-8' };

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly settings: MetricsSettings,
  ) {}

  static async open(settings: MetricsSettings, routes: Routes, log: Logger): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...text, allow: 'GET, HEAD' }).end('method not allowed: this listener is read-only\n');
        return;
      }
      if (!route) {
        res.writeHead(404, text).end(`not found: GET ${Object.keys(routes).join(', ')}\n`);
        return;
      }
      route().then(
        (r) => res.writeHead(200, { 'content-type': r.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : r.body),
        (e: Error) => {
          log.error({ err: e.message, path }, 'metrics listener: an answer failed');
          res.writeHead(500, text).end(`${e.message}\n`);
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
