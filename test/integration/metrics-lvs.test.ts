// The ldirectord role's metrics with real checks: a director over real TCP servers on loopback,
// its checks timed through the metrics' runner, one server stopped. A scrape then shows each
// real's state and weight under node_exporter's IPVS labels, the failed checks counted, and
// promtool takes the text. The host kernel has no IPVS, so the table is the in-memory one and
// the connection counts come from it (the netlink reading of real counts runs where IPVS is:
// the appliance's VM lab).
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { createLogger } from '../../src/log.js';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';
import { defaultRunner, Director } from '../../src/lvs/director.js';
import { MemoryIpvs } from '../../src/lvs/ipvs/memory.js';
import { fromDirector } from '../../src/metrics/collect.js';
import { backendLabels } from '../../src/metrics/kernel.js';
import { timedChecks } from '../../src/metrics/lvs.js';
import { MetricsExporter } from '../../src/metrics/exporter.js';

const servers: Server[] = [];
const listen = (port: number) =>
  new Promise<Server>((resolve) => {
    const s = createServer((c) => c.end());
    s.listen(port, '127.0.0.2', () => resolve(s));
  });

afterAll(() => {
  for (const s of servers) s.close();
});

describe('the ldirectord role’s metrics', () => {
  it('show each real’s state, weight and checks under node_exporter’s labels, promtool-clean', async () => {
    servers.push(await listen(18181), await listen(18182));
    const cf = `checkinterval=1
checktimeout=1
quiescent=yes
virtual=198.18.0.100:80
\treal=127.0.0.2:18181 masq 5
\treal=127.0.0.2:18182 masq 3
\tchecktype=connect
`;
    const x = new MetricsExporter(() => performance.now(), createLogger('test', 'silent'));
    const ipvs = new MemoryIpvs();
    const director = new Director(parseLdirectordConfig(cf, 'test.cf'), ipvs, {
      log: createLogger('test', 'silent'),
      runCheck: timedChecks(defaultRunner, x.m),
    });
    // The table's connection counts: the in-memory table has none, so each real gets its weight as a stand-in count.
    const connections = async () =>
      (await ipvs.read()).flatMap((s) => s.realServers.map((d) => ({ labels: backendLabels(s, d.address), active: d.weight, inactive: 0, weight: d.weight })));
    const scrape = async () => {
      await fromDirector(x.m, director, connections);
      return (await x.render()).body;
    };
    await director.start();
    try {
      const deadline = Date.now() + 8000;
      let text = '';
      for (let k = 0; k < 80 && Date.now() < deadline; k++) {
        text = await scrape();
        if (/aavip_real_server_up\{[^}]*remote_port="18182"[^}]*\} 1/.test(text) && /remote_port="18181"[^}]*\} 1/.test(text)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const labels = 'local_address="198.18.0.100",local_port="80",remote_address="127.0.0.2",remote_port="18182",proto="TCP",local_mark=""';
      expect(text).toContain(`aavip_real_server_up{${labels}} 1`);
      expect(text).toContain(`aavip_real_server_weight{${labels}} 3`);
      expect(text).toContain(`aavip_ipvs_backend_weight{${labels}} 3`);
      servers.pop()!.close();
      for (let k = 0; k < 80 && Date.now() < deadline + 8000; k++) {
        text = await scrape();
        if (text.includes(`aavip_real_server_up{${labels}} 0`)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(text).toContain(`aavip_real_server_up{${labels}} 0`);
      expect(text).toContain(`aavip_real_server_weight{${labels}} 0`); // quiescent: left in the table at weight 0
      expect(text).toMatch(new RegExp(`aavip_real_server_check_failures_total\\{${labels.replace(/[.]/g, '\\.')}\\} [1-9]`));
      expect(text).toMatch(/aavip_real_server_check_duration_seconds_count\{[^}]*remote_port="18181"[^}]*\} [1-9]/);
      const lint = await run('promtool', ['check', 'metrics'], { input: text, allowFailure: true, timeoutMs: 20_000 });
      expect(`${lint.status} ${lint.stdout}${lint.stderr}`.trim()).toBe('0');
    } finally {
      await director.stop();
      await x.stop();
    }
  }, 30_000);
});
