// The daemon's metrics as one part service.ts starts, reloads and stops: the registry (always
// kept, so counters count from the start even when the listener opens on a later reload), the
// event listener, the scrape-time reads and the HTTP listener `metrics.listen` names.
import { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { refresh, type MetricsSource } from './collect.js';
import { MetricsEvents } from './events.js';
import { IpvsConnections } from './kernel.js';
import { defineMetrics, type Metrics } from './registry.js';
import { pageData, type PageSource } from './page-data.js';
import { STATUS_PAGE } from './page.js';
import { MetricsServer, type Rendered, type Routes } from './server.js';
import { listenText, type MetricsSettings } from './settings.js';

export class MetricsExporter {
  readonly registry = new Registry();
  readonly m: Metrics;
  readonly events: MetricsEvents;
  /** What scrapes and the status page read (the daemon); unset, only the event-fed metrics are served. */
  source?: MetricsSource & PageSource;
  private server?: MetricsServer;
  private readonly ipvs = new IpvsConnections();
  private readonly warned = new Map<string, number>();

  constructor(
    now: () => number,
    private readonly log: Logger,
  ) {
    this.m = defineMetrics([this.registry]);
    this.events = new MetricsEvents(this.m, now);
  }

  async render(): Promise<Rendered> {
    if (this.source) await refresh(this.m, this.source, this.ipvs, this.log, this.warned);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** The status page's data (`GET /status.json`). */
  async statusJson(): Promise<Rendered> {
    if (!this.source) throw new Error('the daemon is not running yet');
    return { contentType: 'application/json; charset=utf-8', body: JSON.stringify(pageData(this.source, this.events.recent.list())) };
  }

  private readonly routes: Routes = {
    '/metrics': () => this.render(),
    '/': async () => ({ contentType: 'text/html; charset=utf-8', body: STATUS_PAGE }),
    '/status.json': () => this.statusJson(),
  };

  get listening(): MetricsSettings | undefined {
    return this.server?.settings;
  }

  /** Opens the listener `settings` names (none: metrics off). */
  async start(settings: MetricsSettings | undefined): Promise<void> {
    if (!settings) return;
    this.server = await MetricsServer.open(settings, this.routes, this.log);
    this.log.info({ listen: listenText(settings) }, 'serving metrics on /metrics, the status page on /');
  }

  /**
   * Moves the listener to what a reloaded file names: the new one opens before the old closes
   * where both can be bound at once, so a failed move keeps the old one (and fails the reload).
   */
  async reconfigure(next: MetricsSettings | undefined): Promise<string[]> {
    const old = this.server;
    if ((old ? listenText(old.settings) : '') === (next ? listenText(next) : '')) return [];
    if (!next) {
      await old!.close();
      this.server = undefined;
      return ['metrics listener closed'];
    }
    try {
      this.server = await MetricsServer.open(next, this.routes, this.log);
      await old?.close();
    } catch (e) {
      if (!old || old.settings.port !== next.port) throw e;
      // The same port on another address may clash with the old listener: move it in two steps.
      await old.close();
      this.server = undefined;
      try {
        this.server = await MetricsServer.open(next, this.routes, this.log);
      } catch (again) {
        await this.start(old.settings).catch(() => undefined);
        throw again;
      }
    }
    return [`metrics listener on ${listenText(next)}`];
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    this.ipvs.close();
  }
}
