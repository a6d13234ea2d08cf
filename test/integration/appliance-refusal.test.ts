// `aavip up` refuses an appliance it cannot serve before touching anything, and a reload to one
// keeps the running configuration: real daemons in a namespace lab (prefix syn) on this kernel.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askDaemon } from '../../src/daemon/control-client.js';
import type { DaemonStatus } from '../../src/daemon/control-protocol.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { built } from '../../src/paths.js';

const VIP = '198.18.0.100';
let lab: NetnsLab;
let dir: string;

const MASQ_CF = 'checktimeout=2\nvirtual=198.18.0.100:80\n\treal=198.18.1.1:80 gate\n\treal=198.18.1.2:80 masq\n\tchecktype=off\n';
const MASQ_LINE = 4;

/** cluster.yaml for the lab's one node, with `lvs` when given. */
function writeConfig(name: string, lvs?: object): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      cluster: {
        name: 'syn',
        authkey: join(dir, 'authkey'),
        controlSocket: join(dir, `${name}.sock`),
        heartbeat: { interval: '100ms', deadtime: '500ms' },
        nodes: [{ id: 1, name: 'n1', address: lab.nodeAddress(1) }],
      },
      vips: [{ address: `${VIP}/16`, interface: 'eth0', backend: 'nft' }],
      ...(lvs ? { lvs } : {}),
    }),
  );
  return file;
}

const up = (file: string) =>
  lab.execNode(1, [process.execPath, built('cli/main.js'), 'up', '--config', file, '--node', 'n1'], { allowFailure: true, timeoutMs: 20_000 });

/** What `aavip up` could have left behind in the node: nft tables, the VIP on eth0. */
async function traces(): Promise<{ tables: string; vip: boolean }> {
  const tables = (await lab.execNode(1, ['nft', 'list', 'tables'])).stdout.trim();
  const addrs = (await lab.execNode(1, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
  return { tables, vip: addrs.includes(`${VIP}/`) };
}

beforeAll(async () => {
  lab = await NetnsLab.create({ prefix: 'syn', nodes: 1, clientAddresses: 1 });
  dir = mkdtempSync(join(tmpdir(), 'aavip-syn-'));
  writeFileSync(join(dir, 'authkey'), randomBytes(32));
  chmodSync(join(dir, 'authkey'), 0o600);
  writeFileSync(join(dir, 'masq.cf'), MASQ_CF);
  // gate.cf: served on the VIP, plus a service on an address that is no VIP (a warning, not a refusal).
  writeFileSync(join(dir, 'gate.cf'), `${MASQ_CF.replace('masq', 'gate')}virtual=198.18.5.5:80\n\treal=198.18.1.1:80 gate\n`);
});
afterAll(async () => {
  await lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the appliance refused before anything starts', () => {
  it('aavip up with a masq service on the VIP exits non-zero, names ldirectord.cf:line, and leaves no nft table and no VIP', async () => {
    const r = await up(writeConfig('masq', { config: join(dir, 'masq.cf') }));
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `aavip: ${join(dir, 'masq.cf')}:${MASQ_LINE}: real: tcp:198.18.0.100:80: real 198.18.1.2:80 uses masq: NAT needs every reply back through the director that holds the connection; not yet supported by the active/active appliance — use gate or ipip`,
    );
    expect(await traces()).toEqual({ tables: '', vip: false });
  });

  // The host kernel (6.18 here) has no IPVS; where it has, test/kernel/appliance-sync.test.ts covers the start.
  it.skipIf(existsSync('/proc/net/ip_vs'))('aavip up with lvs.config on a kernel without IPVS fails in one line and changes nothing', async () => {
    const r = await up(writeConfig('gate', { config: join(dir, 'gate.cf') }));
    // Refused by the start-up's doctor checks, as a configuration this node cannot run (exit 2).
    expect(r.status).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('aavip:') || /^\s+at /.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^aavip: .*this node cannot run it: IPVS \(ip_vs module.*has no IPVS/);
    // The combination was checked (and its warning logged) before IPVS was looked for.
    const warning = r.stderr.split('\n').find((l) => l.includes('is not on a VIP'));
    expect(JSON.parse(warning!)).toMatchObject({
      level: 40,
      file: join(dir, 'gate.cf'),
      line: 6,
      msg: expect.stringMatching(/^tcp:198\.18\.5\.5:80 is not on a VIP of cluster syn/),
    });
    expect(await traces()).toEqual({ tables: '', vip: false });
  });

  it('a reload to a masq appliance is refused with its ldirectord.cf line, and the daemon runs on unchanged', async () => {
    const file = writeConfig('reload');
    const child = lab.spawn(lab.nodeNs(1), [process.execPath, built('cli/main.js'), 'up', '--config', file, '--node', 'n1']);
    const log: string[] = [];
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    const socket = join(dir, 'reload.sock');
    let status: DaemonStatus | undefined;
    for (let i = 0; i < 100 && !status?.vips[0]?.local.owned.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await askDaemon(socket, { cmd: 'status' }).catch(() => undefined)) as DaemonStatus | undefined;
    }
    expect(status?.vips[0]?.local.owned.length).toBe(256);
    writeConfig('reload', { config: join(dir, 'masq.cf') });
    const r = await lab.execNode(1, [process.execPath, built('cli/main.js'), 'reload', '--config', file, '--node', 'n1'], { allowFailure: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${join(dir, 'masq.cf')}:${MASQ_LINE}: real: tcp:198.18.0.100:80: real 198.18.1.2:80 uses masq`);
    const after = (await askDaemon(socket, { cmd: 'status' })) as DaemonStatus;
    expect(after.lvs).toBeUndefined();
    expect(after.sync).toBeUndefined();
    expect(after.vips[0].local.owned.length).toBe(256);
    expect((await traces()).vip).toBe(true);
    await lab.kill(child, 'SIGTERM');
    expect(log.join('')).toContain('configuration not reloaded');
  });
});
