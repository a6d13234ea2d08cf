// IPVS through the ipvsadm command, with ldirectord's argument shapes, for hosts where netlink is
// unwanted (and to compare with ldirectord command for command).
import { run } from '../../exec.js';
import type { Forwarding } from '../config/model.js';
import type { IpvsDestination, IpvsServiceState } from '../config/desired.js';
import { refusedAs } from './apply.js';
import type { IpvsOp } from './plan.js';
import type { Ipvs } from './types.js';

const FWD_FLAG: Record<Forwarding, string> = { gate: '-g', masq: '-m', ipip: '-i' };

/** The service part of an ipvsadm command line: -t VIP:PORT | -u VIP:PORT | -f MARK [-6]. */
export function serviceArgs(s: IpvsServiceState): string[] {
  if (s.protocol === 'fwm') return s.family === 6 ? ['-f', String(s.address), '-6'] : ['-f', String(s.address)];
  return [s.protocol === 'tcp' ? '-t' : '-u', String(s.address)];
}

/** A real server's options, the same for adding and editing it. */
const destOpts = (d: Extract<IpvsOp, { op: 'add-dest' }>['dest']): string[] => [
  '-x',
  String(d.upper),
  '-y',
  String(d.lower),
  '-r',
  d.address,
  FWD_FLAG[d.forwarding],
  '-w',
  String(d.weight),
];

/** ipvsadm arguments for one operation, shaped as ldirectord shapes them. */
export function ipvsadmArgs(o: IpvsOp): string[] {
  const P = serviceArgs(o.service);
  const s = o.service;
  const svcOpts = () => [
    ...(s.ops ? ['-o'] : []),
    '-s',
    s.scheduler,
    ...(s.persistent !== null ? ['-p', String(s.persistent), ...(s.netmask ? ['-M', s.netmask] : [])] : []),
    ...(s.schedflags ? ['-b', s.schedflags] : []),
  ];
  switch (o.op) {
    case 'add-service':
      return ['-A', ...P, ...svcOpts()];
    case 'edit-service':
      return ['-E', ...P, ...svcOpts()];
    case 'delete-service':
      return ['-D', ...P];
    case 'add-dest':
      return ['-a', ...P, ...destOpts(o.dest)];
    case 'edit-dest':
      return ['-e', ...P, ...destOpts(o.dest)];
    case 'delete-dest':
      return ['-d', ...P, '-r', o.dest.address];
  }
}

/** Reads `ipvsadm -S -n` (the save format) back into services. */
export function parseIpvsadmSave(text: string): IpvsServiceState[] {
  const services: IpvsServiceState[] = [];
  const opt = (args: string[], flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const keyOf = (args: string[]) =>
    opt(args, '-t') ? `t ${opt(args, '-t')}` : opt(args, '-u') ? `u ${opt(args, '-u')}` : `f ${opt(args, '-f')} ${args.includes('-6')}`;
  const byKey = new Map<string, IpvsServiceState>();
  for (const line of text.split('\n')) {
    const args = line.trim().split(/\s+/);
    if (args[0] === '-A') {
      const t = opt(args, '-t');
      const u = opt(args, '-u');
      const f = opt(args, '-f');
      const addr = t ?? u ?? '';
      const p = opt(args, '-p');
      const s: IpvsServiceState = {
        protocol: t ? 'tcp' : u ? 'udp' : 'fwm',
        family: f ? (args.includes('-6') ? 6 : 4) : addr.startsWith('[') ? 6 : 4,
        address: f ? Number(f) : addr,
        scheduler: opt(args, '-s') ?? 'wlc',
        persistent: p !== undefined ? Number(p) : null,
        netmask: p !== undefined ? (opt(args, '-M') ?? null) : null,
        schedflags: opt(args, '-b') ?? null,
        ops: args.includes('-o'),
        realServers: [],
      };
      services.push(s);
      byKey.set(keyOf(args), s);
    } else if (args[0] === '-a') {
      const s = byKey.get(keyOf(args));
      if (!s) continue;
      const forwarding: Forwarding = args.includes('-m') ? 'masq' : args.includes('-i') ? 'ipip' : 'gate';
      const dest: IpvsDestination = {
        address: opt(args, '-r')!,
        forwarding,
        weight: Number(opt(args, '-w') ?? 1),
        upper: Number(opt(args, '-x') ?? 0),
        lower: Number(opt(args, '-y') ?? 0),
      };
      s.realServers.push(dest);
    }
  }
  return services;
}

/**
 * Fills in the thresholds `ipvsadm -S` leaves out, from `ipvsadm -L -n --thresholds` (the same
 * services in the same order: ipvsadm lists both from one walk of the table). Real servers are
 * matched by address; if the listings disagree, the thresholds stay as saved (0).
 */
export function mergeThresholds(services: IpvsServiceState[], listing: string): IpvsServiceState[] {
  const blocks: Map<string, [number, number]>[] = [];
  for (const line of listing.split('\n')) {
    if (/^(TCP|UDP|FWM|SCTP)\s/.test(line)) blocks.push(new Map());
    const d = line.match(/^\s+->\s+(\S+)\s+(\d+)\s+(\d+)\s/);
    if (d && blocks.length) blocks[blocks.length - 1].set(d[1], [Number(d[2]), Number(d[3])]);
  }
  if (blocks.length !== services.length) return services;
  return services.map((s, i) => ({
    ...s,
    realServers: s.realServers.map((r) => {
      const t = blocks[i].get(r.address);
      return t ? { ...r, upper: t[0], lower: t[1] } : r;
    }),
  }));
}

export class IpvsadmIpvs implements Ipvs {
  readonly kind = 'ipvsadm';
  constructor(private readonly binary = process.env.AAVIP_IPVSADM ?? 'ipvsadm') {}

  async read(): Promise<IpvsServiceState[]> {
    const saved = parseIpvsadmSave((await run(this.binary, ['-S', '-n'])).stdout);
    // Without the thresholds every reconcile would see them as 0 and re-send each real that has one.
    if (!saved.some((s) => s.realServers.length)) return saved;
    return mergeThresholds(saved, (await run(this.binary, ['-L', '-n', '--thresholds'])).stdout);
  }

  async apply(ops: IpvsOp[]): Promise<void> {
    for (const o of ops) await refusedAs(o, () => run(this.binary, ipvsadmArgs(o)));
  }
}
