// The ldirectord role against real servers on loopback (HTTP, HTTPS, TCP, SMTP, DNS, ICMP, an
// external script). The host kernel has no IPVS, so the table here is the in-memory stand-in; the
// real IPVS runs in the VM lab (test/kernel/ipvs-director.test.ts).
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';
import { Director } from '../../src/lvs/director.js';
import { MemoryIpvs } from '../../src/lvs/ipvs/memory.js';
import { createLogger } from '../../src/log.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-lvs-'));
const servers: { close(): void }[] = [];

function listen(server: Server | ReturnType<typeof createTcp>, port: number, host = '127.0.0.2'): Promise<void> {
  return new Promise((resolve) => server.listen(port, host, () => resolve()));
}

function http(_port: number, body = 'OK'): Server {
  const s = createHttp((req, res) => {
    res.end(req.url === '/health' ? body : 'other');
  });
  return s;
}

function dnsServer(port: number): Promise<UdpSocket> {
  // Answers every A query with 198.18.5.5.
  const s = createSocket('udp4');
  s.on('message', (q, rinfo) => {
    let i = 12;
    while (q[i] !== 0) i += q[i] + 1;
    const question = q.subarray(12, i + 5);
    const head = Buffer.from(q.subarray(0, 12));
    head.writeUInt16BE(0x8180, 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(1, 6);
    head.writeUInt16BE(0, 8);
    head.writeUInt16BE(0, 10);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 5, 5]);
    s.send(Buffer.concat([head, question, answer]), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => s.bind(port, '127.0.0.2', () => resolve(s)));
}

function smtp(_port: number) {
  return createTcp((c) => {
    c.write('220 test ESMTP\r\n');
    c.on('data', (d) => {
      const line = d.toString();
      if (line.startsWith('EHLO')) c.write('250-test\r\n250 OK\r\n');
      else if (line.startsWith('QUIT')) c.end('221 bye\r\n');
    });
    c.on('error', () => {});
  });
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let httpServer: Server;
let director: Director;
const ipvs = new MemoryIpvs();
const weightOf = (svc: string, addr: string) => ipvs.table.find((s) => s.address === svc)?.realServers.find((d) => d.address === addr)?.weight;

beforeAll(async () => {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    { stdio: 'ignore' },
  );
  httpServer = http(18080);
  await listen(httpServer, 18080);
  const httpsServer = createHttps({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('secure OK'));
  await listen(httpsServer, 18443);
  const tcp = createTcp((c) => c.end());
  await listen(tcp, 18081);
  const mail = smtp(18025);
  await listen(mail, 18025);
  const dns = await dnsServer(18053);
  servers.push(httpsServer, tcp, mail, { close: () => dns.close() });
  const ext = join(dir, 'ext.sh');
  writeFileSync(ext, `#!/bin/sh\necho "$@" > ${dir}/ext-args\n[ -e ${dir}/ext-up ]\n`);
  chmodSync(ext, 0o755);
  writeFileSync(join(dir, 'ext-up'), '');

  const cf = `checkinterval=1
checktimeout=1
quiescent=yes
virtual=198.18.0.100:80
\treal=127.0.0.2:18080 masq 5
\tfallback=127.0.0.9:80 masq
\tservice=http
\trequest="health"
\treceive="OK"
virtual=198.18.0.100:443
\treal=127.0.0.2:18443 masq 2
\tservice=https
\treceive="secure"
virtual=198.18.0.100:81
\treal=127.0.0.2:18081 masq 3
\tchecktype=connect
\tquiescent=no
virtual=198.18.0.100:25
\treal=127.0.0.2:18025 masq
virtual=198.18.0.100:53
\treal=127.0.0.2:18053 masq
\trequest="example.test"
\treceive="198\\.18\\.5\\.5"
virtual=198.18.0.100:82
\treal=127.0.0.2:1 masq
\tchecktype=ping
virtual=198.18.0.100:83
\treal=127.0.0.2:9999 masq 4
\tchecktype=external
\tcheckcommand="${ext}"
`;
  director = new Director(parseLdirectordConfig(cf, 'test.cf'), ipvs, { log: createLogger('test', 'silent') });
  await director.start();
});

afterAll(async () => {
  await director?.stop();
  httpServer?.close();
  for (const s of servers) s.close();
});

describe('the director with real servers', () => {
  it('brings every healthy real server in with its weight', async () => {
    expect(weightOf('198.18.0.100:80', '127.0.0.2:18080')).toBe(5);
    expect(weightOf('198.18.0.100:443', '127.0.0.2:18443')).toBe(2);
    expect(weightOf('198.18.0.100:81', '127.0.0.2:18081')).toBe(3);
    expect(weightOf('198.18.0.100:25', '127.0.0.2:18025')).toBe(1);
    expect(weightOf('198.18.0.100:53', '127.0.0.2:18053')).toBe(1);
    expect(weightOf('198.18.0.100:82', '127.0.0.2:1')).toBe(1);
    expect(weightOf('198.18.0.100:83', '127.0.0.2:9999')).toBe(4);
    expect(readFileSync(join(dir, 'ext-args'), 'utf8').trim()).toBe('198.18.0.100 83 127.0.0.2 9999');
    // The fallback is only there while no real server is up.
    expect(weightOf('198.18.0.100:80', '127.0.0.9:80')).toBeUndefined();
    expect(ipvs.table.find((s) => s.address === '198.18.0.100:53')?.protocol).toBe('udp');
  });

  it('quiesces a stopped server within checkinterval + checktimeout, brings in the fallback, and restores both', async () => {
    const t0 = Date.now();
    await new Promise<void>((r) => {
      httpServer.close(() => r());
      httpServer.closeAllConnections();
    });
    await waitFor('weight 0', () => weightOf('198.18.0.100:80', '127.0.0.2:18080') === 0);
    expect(Date.now() - t0).toBeLessThan((1 + 1) * 1000 + 1500);
    expect(weightOf('198.18.0.100:80', '127.0.0.9:80')).toBe(1);
    httpServer = http(18080);
    await listen(httpServer, 18080);
    await waitFor('weight restored', () => weightOf('198.18.0.100:80', '127.0.0.2:18080') === 5);
    expect(weightOf('198.18.0.100:80', '127.0.0.9:80')).toBeUndefined();
  });

  it('removes a failed server without quiescent, and adds it back', async () => {
    const tcp = servers[1] as ReturnType<typeof createTcp>;
    await new Promise<void>((r) => tcp.close(() => r()));
    await waitFor('removed', () => weightOf('198.18.0.100:81', '127.0.0.2:18081') === undefined);
    const again = createTcp((c) => c.end());
    await listen(again, 18081);
    servers[1] = again;
    await waitFor('back', () => weightOf('198.18.0.100:81', '127.0.0.2:18081') === 3);
  });

  it('follows an external check and a wrong body', async () => {
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'ext-up'));
    await waitFor('external down', () => weightOf('198.18.0.100:83', '127.0.0.2:9999') === 0);
    await new Promise<void>((r) => {
      httpServer.close(() => r());
      httpServer.closeAllConnections();
    });
    httpServer = http(18080, 'FAIL');
    await listen(httpServer, 18080);
    await waitFor('body mismatch', () => weightOf('198.18.0.100:80', '127.0.0.2:18080') === 0);
    const st = director.status().find((v) => v.virtualService === 'tcp:198.18.0.100:80')!.realServers[0];
    expect(st).toMatchObject({ state: 'down', weight: 0 });
    expect(st.message).toMatch(/does not match/);
  });
});
