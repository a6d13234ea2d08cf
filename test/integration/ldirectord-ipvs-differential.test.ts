// The IPVS table aavip's ldirectord role reaches against the one the real ldirectord (Debian
// package, Perl) reaches, for the same ldirectord.cf and the same sequence of real-server states.
// The host kernel has no IPVS, so both drive test/fixtures/ipvsadm-standin.mjs: ldirectord finds
// it as ./ipvsadm in its working directory (it does with -d), aavip through AAVIP_IPVSADM with
// `--ipvs ipvsadm`. Each case runs the two side by side, each in its own namespace holding the same
// real servers (small Node listeners on 198.18.40.0/24 and 2001:db8::40:0/64), changes the servers
// in steps and, once both tables have settled, requires them to be equal — except where ldirectord
// has a bug aavip deliberately does not copy: those cases name the difference and assert both outcomes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { run } from '../../src/exec.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { DIST } from './lab-helpers.js';

const LDIRECTORD = '/usr/sbin/ldirectord';
const MAIN = join(DIST, 'cli', 'main.js');
const STANDIN = join(PACKAGE_ROOT, 'test', 'fixtures', 'ipvsadm-standin.mjs');
const NET = '198.18.40';
const NET6 = '2001:db8::40';
/** Real-server addresses every namespace holds (.21/.22 answer pings only; .31, the fallback, holds nothing). */
const HOSTS = [11, 12, 13, 14, 15, 21, 22];
const HOSTS6 = [11, 12];
/**
 * A table counts as settled once it meets the step's expectations and has not changed for this long.
 * The bounds only matter when it never does (a start runs ldirectord's add/remove churn, many ipvsadm calls).
 */
const STABLE_MS = 3000;
const STEP_MAX_MS = 20_000;
const START_MAX_MS = 40_000;
/** Cases running at once (each runs two directors); the machine may be small and busy. */
const SLOTS = 2;

const canRun = existsSync(LDIRECTORD) && existsSync(MAIN) && process.getuid?.() === 0;

// ---- the cases ------------------------------------------------------------------------------
// In server names and expectations `.N` stands for 198.18.40.N. An expectation is the start of a
// table line (whole words), or with a leading `!` a line that must not be there. Table lines:
// `PROTO VIP sched [persistent T mask M] [ops]` and `PROTO VIP -> RIP:PORT Forward weight [u:U l:L]`.

interface Server {
  at: string;
  kind: 'tcp' | 'http';
  body?: string;
  down?: boolean;
}
interface Action {
  stop?: string[];
  start?: string[];
  /** New HTTP answer body / status of running servers. */
  body?: Record<string, string>;
  status?: Record<string, number>;
  /** Addresses taken off / put back on the interface (what a ping check sees). */
  addrDown?: string[];
  addrUp?: string[];
  /** ipvsadm commands an administrator runs against both tables. */
  admin?: string[][];
}
interface Step {
  name: string;
  do?: Action;
  /** Both tables. */
  expect: string[];
  /** A documented difference: lines only in that program's table (`!` lines: absent there). */
  differs?: { ldirectord: string[]; aavip: string[] };
  /** Must appear in ldirectord's ipvsadm log (its failed commands are logged with their message). */
  ldirectordLog?: RegExp;
}
interface Case {
  name: string;
  cf: string;
  servers: Server[];
  steps: Step[];
}

const cases: Case[] = [
  {
    name: 'http negotiate, quiescent=no, fallback when nothing is up',
    cf: `quiescent=no
virtual=${NET}.100:80
\treal=${NET}.11:8080 masq 5
\treal=${NET}.12:8080 masq 3
\tfallback=${NET}.31:8081 masq
\tservice=http
\trequest="health"
\treceive="OK"
\tscheduler=rr
`,
    servers: [
      { at: '.11:8080', kind: 'http', body: 'OK' },
      { at: '.12:8080', kind: 'http', body: 'OK' },
    ],
    steps: [
      { name: 'both answer', expect: ['TCP .100:80 rr', 'TCP .100:80 -> .11:8080 Masq 5', 'TCP .100:80 -> .12:8080 Masq 3', '!TCP .100:80 -> .31:8081'] },
      {
        name: '.12 answers without the receive string',
        do: { body: { '.12:8080': 'FAIL' } },
        expect: ['TCP .100:80 -> .11:8080 Masq 5', '!TCP .100:80 -> .12:8080', '!TCP .100:80 -> .31:8081'],
      },
      {
        name: '.11 stopped: none up, fallback in',
        do: { stop: ['.11:8080'] },
        expect: ['!TCP .100:80 -> .11:8080', '!TCP .100:80 -> .12:8080', 'TCP .100:80 -> .31:8081 Masq 1'],
      },
      {
        name: '.12 answers again: fallback out',
        do: { body: { '.12:8080': 'OK' } },
        expect: ['TCP .100:80 -> .12:8080 Masq 3', '!TCP .100:80 -> .11:8080', '!TCP .100:80 -> .31:8081'],
      },
      {
        name: '.11 back',
        do: { start: ['.11:8080'] },
        expect: ['TCP .100:80 -> .11:8080 Masq 5', 'TCP .100:80 -> .12:8080 Masq 3', '!TCP .100:80 -> .31:8081'],
      },
    ],
  },
  {
    name: 'connect check, quiescent=yes, failurecount=2, fallback, thresholds',
    cf: `quiescent=yes
failurecount=2
virtual=${NET}.101:9000
\treal=${NET}.11:9000 masq 4 l:2 u:8
\treal=${NET}.12:9001 masq 2
\tfallback=${NET}.31:9000 masq
\tchecktype=connect
\tscheduler=wlc
`,
    servers: [
      { at: '.11:9000', kind: 'tcp' },
      { at: '.12:9001', kind: 'tcp' },
    ],
    steps: [
      {
        name: 'both up',
        expect: ['TCP .101:9000 wlc', 'TCP .101:9000 -> .11:9000 Masq 4 u:8 l:2', 'TCP .101:9000 -> .12:9001 Masq 2', '!TCP .101:9000 -> .31:9000'],
      },
      {
        name: '.11 stopped: quiesced after two failures',
        do: { stop: ['.11:9000'] },
        expect: ['TCP .101:9000 -> .11:9000 Masq 0', 'TCP .101:9000 -> .12:9001 Masq 2', '!TCP .101:9000 -> .31:9000'],
      },
      {
        name: '.12 stopped too: fallback in',
        do: { stop: ['.12:9001'] },
        expect: ['TCP .101:9000 -> .11:9000 Masq 0', 'TCP .101:9000 -> .12:9001 Masq 0', 'TCP .101:9000 -> .31:9000 Masq 1'],
      },
      {
        name: '.12 back: fallback out',
        do: { start: ['.12:9001'] },
        expect: ['TCP .101:9000 -> .11:9000 Masq 0', 'TCP .101:9000 -> .12:9001 Masq 2', '!TCP .101:9000 -> .31:9000'],
      },
      {
        name: '.11 back with its thresholds',
        do: { start: ['.11:9000'] },
        expect: ['TCP .101:9000 -> .11:9000 Masq 4 u:8 l:2', 'TCP .101:9000 -> .12:9001 Masq 2'],
      },
    ],
  },
  {
    name: 'gate, ipip and masq reals with weights and thresholds',
    cf: `quiescent=no
virtual=${NET}.102:9100
\treal=${NET}.11:9100 gate 2 l:3 u:10
\treal=${NET}.12:9100 ipip 4
\treal=${NET}.13:9100 masq 1
\tchecktype=connect
\tscheduler=wrr
`,
    servers: [
      { at: '.11:9100', kind: 'tcp' },
      { at: '.12:9100', kind: 'tcp' },
      { at: '.13:9100', kind: 'tcp' },
    ],
    steps: [
      { name: 'all up', expect: ['TCP .102:9100 -> .11:9100 Route 2 u:10 l:3', 'TCP .102:9100 -> .12:9100 Tunnel 4', 'TCP .102:9100 -> .13:9100 Masq 1'] },
      {
        name: 'the tunnelled real stopped',
        do: { stop: ['.12:9100'] },
        expect: ['TCP .102:9100 -> .11:9100 Route 2', '!TCP .102:9100 -> .12:9100', 'TCP .102:9100 -> .13:9100 Masq 1'],
      },
      { name: 'all stopped, no fallback: an empty service', do: { stop: ['.11:9100', '.13:9100'] }, expect: ['TCP .102:9100 wrr', '!TCP .102:9100 ->'] },
      {
        name: 'all back',
        do: { start: ['.11:9100', '.12:9100', '.13:9100'] },
        expect: ['TCP .102:9100 -> .11:9100 Route 2 u:10 l:3', 'TCP .102:9100 -> .12:9100 Tunnel 4', 'TCP .102:9100 -> .13:9100 Masq 1'],
      },
    ],
  },
  {
    name: 'several virtuals: persistence, netmask, schedulers, one fallback',
    cf: `quiescent=no
virtual=${NET}.103:8443
\treal=${NET}.14:8443 masq
\treal=${NET}.15:8443 masq 2
\tchecktype=connect
\tscheduler=sh
\tpersistent=600
\tnetmask=255.255.255.0
virtual=${NET}.104:8444
\treal=${NET}.14:8444 masq 3
\tchecktype=connect
\tscheduler=lc
\tpersistent=60
virtual=${NET}.105:8445
\treal=${NET}.15:8445 masq
\tchecktype=connect
\tfallback=${NET}.31:8445 masq
`,
    servers: [
      { at: '.14:8443', kind: 'tcp' },
      { at: '.15:8443', kind: 'tcp' },
      { at: '.14:8444', kind: 'tcp' },
      { at: '.15:8445', kind: 'tcp' },
    ],
    steps: [
      {
        name: 'all up',
        expect: [
          'TCP .103:8443 sh persistent 600 mask 255.255.255.0',
          'TCP .104:8444 lc persistent 60 mask 255.255.255.255',
          'TCP .105:8445 wrr',
          'TCP .103:8443 -> .14:8443 Masq 1',
          'TCP .103:8443 -> .15:8443 Masq 2',
          'TCP .104:8444 -> .14:8444 Masq 3',
          'TCP .105:8445 -> .15:8445 Masq 1',
        ],
      },
      {
        name: '.14 stopped on both its ports',
        do: { stop: ['.14:8443', '.14:8444'] },
        expect: ['!TCP .103:8443 -> .14:8443', 'TCP .103:8443 -> .15:8443 Masq 2', '!TCP .104:8444 ->'],
      },
      {
        name: ".15:8445 stopped: that virtual's fallback in",
        do: { stop: ['.15:8445'] },
        expect: ['!TCP .105:8445 -> .15:8445', 'TCP .105:8445 -> .31:8445 Masq 1', 'TCP .103:8443 -> .15:8443 Masq 2'],
      },
      {
        name: 'all back',
        do: { start: ['.14:8443', '.14:8444', '.15:8445'] },
        expect: ['TCP .103:8443 -> .14:8443 Masq 1', 'TCP .104:8444 -> .14:8444 Masq 3', 'TCP .105:8445 -> .15:8445 Masq 1', '!TCP .105:8445 -> .31:8445'],
      },
    ],
  },
  {
    name: 'udp virtual (port 53): connect means ping, checkcount=2, ops, quiescent per virtual',
    cf: `checkcount=2
virtual=${NET}.106:53
\treal=${NET}.21:53 gate
\treal=${NET}.22:53 gate 3
\tchecktype=connect
\tops=yes
\tscheduler=rr
\tquiescent=yes
`,
    servers: [],
    steps: [
      { name: 'both answer pings', expect: ['UDP .106:53 rr ops', 'UDP .106:53 -> .21:53 Route 1', 'UDP .106:53 -> .22:53 Route 3'] },
      { name: '.22 gone from the network', do: { addrDown: ['.22'] }, expect: ['UDP .106:53 -> .21:53 Route 1', 'UDP .106:53 -> .22:53 Route 0'] },
      { name: '.22 back', do: { addrUp: ['.22'] }, expect: ['UDP .106:53 -> .21:53 Route 1', 'UDP .106:53 -> .22:53 Route 3'] },
    ],
  },
  {
    name: 'fwmark virtual: persistent, sh, checkport; the global fallback does not apply to it',
    cf: `fallback=${NET}.31:9200 gate
virtual=5
\treal=${NET}.11 gate
\treal=${NET}.12 gate 2
\tchecktype=connect
\tcheckport=9200
\tscheduler=sh
\tpersistent=300
\tnetmask=255.255.255.0
`,
    servers: [
      { at: '.11:9200', kind: 'tcp' },
      { at: '.12:9200', kind: 'tcp' },
    ],
    steps: [
      { name: 'both up', expect: ['FWM 5 sh persistent 300 mask 255.255.255.0', 'FWM 5 -> .11:0 Route 1', 'FWM 5 -> .12:0 Route 2'] },
      { name: '.12 stopped', do: { stop: ['.12:9200'] }, expect: ['FWM 5 -> .11:0 Route 1', '!FWM 5 -> .12:0'] },
      { name: 'both stopped: nothing, not even a fallback', do: { stop: ['.11:9200'] }, expect: ['FWM 5 sh', '!FWM 5 ->'] },
      { name: 'both back', do: { start: ['.11:9200', '.12:9200'] }, expect: ['FWM 5 -> .11:0 Route 1', 'FWM 5 -> .12:0 Route 2'] },
    ],
  },
  {
    name: 'IPv6: virtual6 with fallback6, and an IPv6 fwmark with a prefix netmask',
    // Connect checks: ldirectord's IPv6 HTTP check needs Net::INET6Glue, which its Debian package does not pull in.
    cf: `virtual6=[${NET6}:100]:80
\treal6=[${NET6}:11]:8080 masq 2
\treal6=[${NET6}:12]:8080 masq
\tfallback6=[${NET6}:31]:8080 masq
\tchecktype=connect
virtual6=7
\treal6=[${NET6}:11] gate
\tchecktype=connect
\tcheckport=9300
\tpersistent=100
\tnetmask=64
`,
    servers: [
      { at: `[${NET6}:11]:8080`, kind: 'tcp' },
      { at: `[${NET6}:12]:8080`, kind: 'tcp' },
      { at: `[${NET6}:11]:9300`, kind: 'tcp' },
    ],
    steps: [
      {
        name: 'all up',
        expect: [
          `TCP [${NET6}:100]:80 wrr`,
          `TCP [${NET6}:100]:80 -> [${NET6}:11]:8080 Masq 2`,
          `TCP [${NET6}:100]:80 -> [${NET6}:12]:8080 Masq 1`,
          'FWM6 7 wrr persistent 100 mask 64',
          `FWM6 7 -> [${NET6}:11]:0 Route 1`,
          `!TCP [${NET6}:100]:80 -> [${NET6}:31]:8080`,
        ],
      },
      {
        name: 'all stopped: fallback6 in, the fwmark empty',
        do: { stop: [`[${NET6}:11]:8080`, `[${NET6}:12]:8080`, `[${NET6}:11]:9300`] },
        expect: [`TCP [${NET6}:100]:80 -> [${NET6}:31]:8080 Masq 1`, `!TCP [${NET6}:100]:80 -> [${NET6}:11]:8080`, '!FWM6 7 ->'],
      },
      {
        name: 'all back',
        do: { start: [`[${NET6}:11]:8080`, `[${NET6}:12]:8080`, `[${NET6}:11]:9300`] },
        expect: [`TCP [${NET6}:100]:80 -> [${NET6}:11]:8080 Masq 2`, `!TCP [${NET6}:100]:80 -> [${NET6}:31]:8080`, `FWM6 7 -> [${NET6}:11]:0 Route 1`],
      },
    ],
  },
  {
    name: 'readdquiescent: a real deleted by hand is put back at weight 0 when it fails',
    cf: `quiescent=yes
readdquiescent=yes
virtual=${NET}.107:9400
\treal=${NET}.11:9400 masq 2
\treal=${NET}.12:9400 masq 2
\tchecktype=connect
`,
    servers: [
      { at: '.11:9400', kind: 'tcp' },
      { at: '.12:9400', kind: 'tcp', down: true },
    ],
    steps: [
      { name: '.12 down from the start', expect: ['TCP .107:9400 -> .11:9400 Masq 2', 'TCP .107:9400 -> .12:9400 Masq 0'] },
      { name: '.12 up', do: { start: ['.12:9400'] }, expect: ['TCP .107:9400 -> .12:9400 Masq 2'] },
      {
        name: 'the administrator deletes .12',
        do: { admin: [['-d', '-t', `${NET}.107:9400`, '-r', `${NET}.12:9400`]] },
        expect: ['!TCP .107:9400 -> .12:9400', 'TCP .107:9400 -> .11:9400 Masq 2'],
      },
      { name: '.12 fails: re-added quiescent', do: { stop: ['.12:9400'] }, expect: ['TCP .107:9400 -> .12:9400 Masq 0'] },
      { name: '.12 up again', do: { start: ['.12:9400'] }, expect: ['TCP .107:9400 -> .12:9400 Masq 2'] },
    ],
  },
  {
    name: "quiescent=yes, every real down at start: a gate fallback on the virtual's port",
    cf: `quiescent=yes
virtual=${NET}.108:80
\treal=${NET}.13:8080 masq 2
\treal=${NET}.14:8080 masq 2
\tfallback=${NET}.31 gate
`,
    servers: [
      { at: '.13:8080', kind: 'http', down: true },
      { at: '.14:8080', kind: 'http', down: true },
    ],
    steps: [
      { name: 'none up', expect: ['TCP .108:80 -> .13:8080 Masq 0', 'TCP .108:80 -> .14:8080 Masq 0', 'TCP .108:80 -> .31:80 Route 1'] },
      {
        name: '.13 up: fallback out',
        do: { start: ['.13:8080'] },
        expect: ['TCP .108:80 -> .13:8080 Masq 2', 'TCP .108:80 -> .14:8080 Masq 0', '!TCP .108:80 -> .31:80'],
      },
      { name: '.13 down again: fallback in', do: { stop: ['.13:8080'] }, expect: ['TCP .108:80 -> .13:8080 Masq 0', 'TCP .108:80 -> .31:80 Route 1'] },
    ],
  },
  {
    name: 'http: a per-real request/receive pair, status codes',
    cf: `quiescent=no
virtual=${NET}.109:8080
\treal=${NET}.11:8180 masq 1 "alive","yes"
\treal=${NET}.12:8180 masq 1
\tservice=http
\trequest="health"
\treceive="OK"
`,
    servers: [
      { at: '.11:8180', kind: 'http', body: 'yes' },
      { at: '.12:8180', kind: 'http', body: 'OK' },
    ],
    steps: [
      { name: 'both answer what they are asked', expect: ['TCP .109:8080 -> .11:8180 Masq 1', 'TCP .109:8080 -> .12:8180 Masq 1'] },
      { name: '.11 answers no', do: { body: { '.11:8180': 'no' } }, expect: ['!TCP .109:8080 -> .11:8180', 'TCP .109:8080 -> .12:8180 Masq 1'] },
      { name: '.12 answers 503 (body still OK)', do: { status: { '.12:8180': 503 } }, expect: ['!TCP .109:8080 -> .11:8180', '!TCP .109:8080 -> .12:8180'] },
      {
        name: 'both healthy again',
        do: { body: { '.11:8180': 'yes' }, status: { '.12:8180': 200 } },
        expect: ['TCP .109:8080 -> .11:8180 Masq 1', 'TCP .109:8080 -> .12:8180 Masq 1'],
      },
    ],
  },
  {
    // ldirectord adds RIP:8080 with -g; ipvsadm stores it under the virtual's port, RIP:80. When it
    // brings the real back it looks for RIP:8080, does not find it, and adds it again: "Destination
    // already exists", and the real stays at weight 0 for good. aavip edits RIP:80.
    name: 'DIFFERENCE: a gate real on another port than the virtual, quiescent=yes',
    cf: `quiescent=yes
virtual=${NET}.110:80
\treal=${NET}.11:8080 gate 2
\treal=${NET}.12:80 gate 3
\tchecktype=connect
`,
    servers: [
      { at: '.11:8080', kind: 'tcp' },
      { at: '.12:80', kind: 'tcp' },
    ],
    steps: [
      {
        name: 'both up: ldirectord leaves the port-mapped real quiesced',
        expect: ['TCP .110:80 -> .12:80 Route 3'],
        differs: { ldirectord: ['TCP .110:80 -> .11:80 Route 0'], aavip: ['TCP .110:80 -> .11:80 Route 2'] },
        ldirectordLog: /^-a -t 198\.18\.40\.110:80 -x 0 -y 0 -r 198\.18\.40\.11:8080 -g -w 2\t=> exit 255: Destination already exists$/m,
      },
      { name: '.11 stopped: both quiesce it', do: { stop: ['.11:8080'] }, expect: ['TCP .110:80 -> .11:80 Route 0', 'TCP .110:80 -> .12:80 Route 3'] },
      {
        name: '.11 back: ldirectord cannot restore it',
        do: { start: ['.11:8080'] },
        expect: ['TCP .110:80 -> .12:80 Route 3'],
        differs: { ldirectord: ['TCP .110:80 -> .11:80 Route 0'], aavip: ['TCP .110:80 -> .11:80 Route 2'] },
      },
    ],
  },
  {
    // ldirectord's start-up list of down reals is keyed by RIP:PORT only: a real listed in two
    // virtuals with different weights (so two different reals to its checks) is quiesced into the
    // table for the last virtual only. aavip puts it at weight 0 in both quiescent virtuals.
    name: 'DIFFERENCE: a real in two virtuals with different weights, down at start, quiescent=yes',
    cf: `quiescent=yes
virtual=${NET}.111:9500
\treal=${NET}.11:9500 masq 1
\treal=${NET}.13:9500 masq 1
\tchecktype=connect
virtual=${NET}.112:9500
\treal=${NET}.11:9500 masq 1
\treal=${NET}.13:9500 masq 2
\tchecktype=connect
`,
    servers: [
      { at: '.11:9500', kind: 'tcp' },
      { at: '.13:9500', kind: 'tcp', down: true },
    ],
    steps: [
      {
        name: '.13 down: missing from the first virtual in ldirectord',
        expect: ['TCP .111:9500 -> .11:9500 Masq 1', 'TCP .112:9500 -> .11:9500 Masq 1', 'TCP .112:9500 -> .13:9500 Masq 0'],
        differs: { ldirectord: ['!TCP .111:9500 -> .13:9500'], aavip: ['TCP .111:9500 -> .13:9500 Masq 0'] },
      },
      {
        name: '.13 up: in both with its weights',
        do: { start: ['.13:9500'] },
        expect: ['TCP .111:9500 -> .13:9500 Masq 1', 'TCP .112:9500 -> .13:9500 Masq 2'],
      },
      { name: '.13 down: quiesced in both', do: { stop: ['.13:9500'] }, expect: ['TCP .111:9500 -> .13:9500 Masq 0', 'TCP .112:9500 -> .13:9500 Masq 0'] },
    ],
  },
];

// ---- tables ---------------------------------------------------------------------------------

interface StandinDest {
  af: 4 | 6;
  addr: string;
  port: number;
  fwd: string;
  weight: number;
  uthreshold: number;
  lthreshold: number;
}
interface StandinService {
  proto: string;
  af: 4 | 6;
  addr?: string;
  port: number;
  fwmark: number;
  sched: string;
  persistent: boolean;
  timeout: number;
  netmask: string;
  ops: boolean;
  schedflags: string;
  dests: StandinDest[];
}

const hostPort = (af: number, addr: string, port: number) => (af === 6 ? `[${addr}]:${port}` : `${addr}:${port}`);

/** A table as sorted lines (see the cases' legend). */
function render(file: string): string[] {
  let table: { services: StandinService[] };
  try {
    table = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const lines: string[] = [];
  for (const s of table.services) {
    const label = s.fwmark ? `FWM${s.af === 6 ? '6' : ''} ${s.fwmark}` : `${s.proto} ${hostPort(s.af, s.addr!, s.port)}`;
    lines.push(
      `${label} ${s.sched}${s.persistent ? ` persistent ${s.timeout} mask ${s.netmask}` : ''}${s.ops ? ' ops' : ''}${s.schedflags ? ` flags ${s.schedflags}` : ''}`,
    );
    for (const d of s.dests) {
      const thresholds = d.uthreshold || d.lthreshold ? ` u:${d.uthreshold} l:${d.lthreshold}` : '';
      lines.push(`${label} -> ${hostPort(d.af, d.addr, d.port)} ${d.fwd} ${d.weight}${thresholds}`);
    }
  }
  return lines.sort();
}

const expand = (text: string) => text.replace(/(^|[\s!])\.(\d+)/g, `$1${NET}.$2`);
const startsWithWords = (line: string, prefix: string) => line.startsWith(prefix) && (line.length === prefix.length || line[prefix.length] === ' ');
/** Expectations a table does not meet. */
function unmet(lines: string[], expectations: string[]): string[] {
  return expectations.filter((raw) => {
    const e = expand(raw);
    return e.startsWith('!') ? lines.some((l) => startsWithWords(l, e.slice(1))) : !lines.some((l) => startsWithWords(l, e));
  });
}
/** The table without the lines a documented difference accounts for. */
const without = (lines: string[], expectations: string[]) =>
  lines.filter((l) => !expectations.some((raw) => !raw.startsWith('!') && startsWithWords(l, expand(raw))));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the table meets `expectations` and then stays unchanged for STABLE_MS (or `maxMs` passes). */
async function settle(file: string, expectations: string[], maxMs: number): Promise<string[]> {
  const deadline = Date.now() + maxMs;
  let last = '';
  let since = Date.now();
  let lines: string[] = [];
  while (Date.now() < deadline) {
    lines = render(file);
    const key = lines.join('\n');
    if (key !== last) {
      last = key;
      since = Date.now();
    }
    if (unmet(lines, expectations).length === 0 && Date.now() - since >= STABLE_MS) break;
    await sleep(200);
  }
  return lines;
}

// ---- namespaces, real servers, the two directors ---------------------------------------------

/** One Node process per namespace holding the listeners, driven by JSON lines on stdin. */
const FARM = `
import net from 'node:net'; import http from 'node:http'; import readline from 'node:readline';
const servers = new Map();
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const m = JSON.parse(line);
  try {
    if (m.op === 'listen') {
      const state = { status: m.status ?? 200, body: m.body ?? 'OK' };
      const sockets = new Set();
      const server = m.kind === 'http'
        ? http.createServer((q, r) => { r.writeHead(state.status, { 'content-type': 'text/plain', connection: 'close' }); r.end(state.body); })
        : net.createServer((c) => { c.on('error', () => {}); c.end(); });
      server.on('connection', (c) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
      await new Promise((ok, ko) => { server.once('error', ko); server.listen(m.port, m.host, ok); });
      servers.set(m.id, { server, state, sockets });
    } else if (m.op === 'close') {
      const s = servers.get(m.id);
      if (s) { servers.delete(m.id); for (const c of s.sockets) c.destroy(); await new Promise((ok) => s.server.close(() => ok())); }
    } else if (m.op === 'set') Object.assign(servers.get(m.id).state, m.set);
    process.stdout.write(JSON.stringify({ seq: m.seq, ok: true }) + '\\n');
  } catch (e) { process.stdout.write(JSON.stringify({ seq: m.seq, ok: false, error: String(e) }) + '\\n'); }
});
`;

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => children.delete(child));
  return child;
}

/** Stops a child we started, by its PID: TERM, then KILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function splitHostPort(at: string): { host: string; port: number } {
  const full = expand(at);
  const m = /^\[(.+)\]:(\d+)$/.exec(full) ?? /^(.+):(\d+)$/.exec(full)!;
  return { host: m[1], port: Number(m[2]) };
}

class Namespace {
  private farm?: ChildProcess;
  private seq = 0;
  private readonly pending = new Map<number, (r: { ok: boolean; error?: string }) => void>();
  private readonly down = new Set<string>();

  constructor(readonly name: string) {}

  async create(): Promise<void> {
    await run('ip', ['netns', 'add', this.name]);
    const cmds = [
      'link set lo up',
      'link add ldd0 type veth peer name ldd1',
      'link set ldd0 up',
      'link set ldd1 up',
      ...HOSTS.map((h) => `addr add ${NET}.${h}/24 dev ldd0`),
      ...HOSTS6.map((h) => `addr add ${NET6}:${h}/64 dev ldd0 nodad`),
    ];
    await run('ip', ['-n', this.name, '-batch', '-'], { input: cmds.join('\n') + '\n' });
    // Removing the first address of the subnet must not take the others with it.
    await run('ip', ['netns', 'exec', this.name, 'sysctl', '-qw', 'net.ipv4.conf.ldd0.promote_secondaries=1']);
    this.farm = track(spawn('ip', ['netns', 'exec', this.name, process.execPath, '--input-type=module', '-e', FARM], { stdio: ['pipe', 'pipe', 'inherit'] }));
    createInterface({ input: this.farm.stdout! }).on('line', (line) => {
      const r = JSON.parse(line) as { seq: number; ok: boolean; error?: string };
      this.pending.get(r.seq)?.(r);
      this.pending.delete(r.seq);
    });
  }

  private async ask(message: Record<string, unknown>): Promise<void> {
    const seq = ++this.seq;
    const reply = new Promise<{ ok: boolean; error?: string }>((resolve) => this.pending.set(seq, resolve));
    this.farm!.stdin!.write(JSON.stringify({ ...message, seq }) + '\n');
    const r = await Promise.race([reply, sleep(5000).then(() => ({ ok: false, error: 'no answer in 5 s' }))]);
    if (!r.ok) throw new Error(`${this.name}: ${JSON.stringify(message)}: ${r.error}`);
  }

  listen(s: Server): Promise<void> {
    return this.ask({ op: 'listen', id: s.at, kind: s.kind, body: s.body, ...splitHostPort(s.at) });
  }
  close(at: string): Promise<void> {
    return this.ask({ op: 'close', id: at });
  }
  set(at: string, set: Record<string, unknown>): Promise<void> {
    return this.ask({ op: 'set', id: at, set });
  }

  async address(host: string, up: boolean): Promise<void> {
    const a = expand(host);
    await run('ip', ['-n', this.name, 'addr', up ? 'add' : 'del', `${a}/24`, 'dev', 'ldd0']);
    if (up) this.down.delete(a);
    else this.down.add(a);
  }

  /** Back to every address up (after a case that took some down). */
  async restoreAddresses(): Promise<void> {
    for (const a of [...this.down]) await this.address(a, true);
  }

  async destroy(): Promise<void> {
    if (this.farm) await stopChild(this.farm, 2000);
    await run('ip', ['netns', 'del', this.name], { allowFailure: true });
  }
}

type Program = 'ldirectord' | 'aavip';

/** One director run: its namespace, working directory, stand-in table and log. */
class Director {
  readonly table: string;
  readonly ipvsadmLog: string;
  readonly output: string;
  private child?: ChildProcess;

  constructor(
    readonly program: Program,
    readonly ns: Namespace,
    readonly dir: string,
    private readonly cf: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.table = join(dir, 'ipvs.json');
    this.ipvsadmLog = join(dir, 'ipvsadm.log');
    this.output = join(dir, `${program}.out`);
    // ldirectord runs ./ipvsadm through the shell; aavip runs the same wrapper.
    writeFileSync(join(dir, 'ipvsadm'), `#!/bin/sh\nexec '${process.execPath}' '${STANDIN}' "$@"\n`);
    chmodSync(join(dir, 'ipvsadm'), 0o755);
  }

  start(): void {
    const env: NodeJS.ProcessEnv = { ...process.env, IPVSADM_STANDIN_TABLE: this.table, IPVSADM_STANDIN_LOG: this.ipvsadmLog };
    for (const k of Object.keys(env)) if (/_proxy$/i.test(k)) delete env[k];
    const argv =
      this.program === 'ldirectord' ? [LDIRECTORD, '-d', this.cf, 'start'] : [process.execPath, MAIN, 'ldirectord', '-f', this.cf, 'run', '--ipvs', 'ipvsadm'];
    if (this.program === 'aavip') Object.assign(env, { AAVIP_IPVSADM: join(this.dir, 'ipvsadm'), AAVIP_RUN_DIR: join(this.dir, 'run') });
    const out = openSync(this.output, 'a');
    // `ip netns exec` execs the program in place: the PID we hold is the director's own.
    this.child = track(spawn('ip', ['netns', 'exec', this.ns.name, ...argv], { cwd: this.dir, env, stdio: ['ignore', out, out] }));
    closeSync(out);
  }

  /** Runs the stand-in on this side's table, as an administrator would run ipvsadm. */
  ipvsadm(args: string[]): Promise<void> {
    return new Promise((resolve, reject) =>
      execFile(
        join(this.dir, 'ipvsadm'),
        args,
        { env: { ...process.env, IPVSADM_STANDIN_TABLE: this.table, IPVSADM_STANDIN_LOG: this.ipvsadmLog }, timeout: 10_000 },
        (err, _out, stderr) => (err ? reject(new Error(`ipvsadm ${args.join(' ')}: ${stderr || err.message}`)) : resolve()),
      ),
    );
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child);
  }

  /** What the two sides did, for failure messages: the commands that change the table, the last ones. */
  commands(): string {
    const log = existsSync(this.ipvsadmLog) ? readFileSync(this.ipvsadmLog, 'utf8') : '';
    return log
      .split('\n')
      .filter((l) => l && !/^-[LS] -n/.test(l))
      .slice(-15)
      .join('\n');
  }
}

interface Slot {
  ldirectord: Namespace;
  aavip: Namespace;
}
const slots: Slot[] = [];
const freeSlots: Slot[] = [];
const slotWaiters: ((s: Slot) => void)[] = [];
async function withSlot<T>(fn: (s: Slot) => Promise<T>): Promise<T> {
  const slot = freeSlots.pop() ?? (await new Promise<Slot>((r) => slotWaiters.push(r)));
  try {
    return await fn(slot);
  } finally {
    const next = slotWaiters.shift();
    if (next) next(slot);
    else freeSlots.push(slot);
  }
}

const work = mkdtempSync(join(tmpdir(), 'ldd-ipvs-diff-'));
let caseNo = 0;

/** One case; `expect` is the test's own (the cases run concurrently). */
async function runCase(c: Case, slot: Slot, expect: ExpectStatic): Promise<void> {
  const dir = join(work, `case${++caseNo}`);
  mkdirSync(dir);
  // The file's name is ldirectord's instance name (its PID file's): unique per run and case.
  const cf = join(dir, `ldd-${process.pid}-${caseNo}.cf`);
  writeFileSync(cf, `checktimeout=1\ncheckinterval=1\nlogfile="${join(dir, 'ldirectord.log')}"\n${c.cf}`);
  const sides = {
    ldirectord: new Director('ldirectord', slot.ldirectord, join(dir, 'ldirectord'), cf),
    aavip: new Director('aavip', slot.aavip, join(dir, 'aavip'), cf),
  };
  const both = [sides.ldirectord, sides.aavip];
  const history: string[] = [];
  const context = () =>
    `${history.join('\n')}\n-- ldirectord's last commands:\n${sides.ldirectord.commands()}\n-- aavip's last commands:\n${sides.aavip.commands()}`;
  try {
    for (const d of both) for (const s of c.servers) if (!s.down) await d.ns.listen(s);
    for (const d of both) d.start();
    for (const [i, step] of c.steps.entries()) {
      if (step.do) await Promise.all(both.map((d) => apply(d, step.do!, c)));
      const want = (p: Program) => [...step.expect, ...(step.differs?.[p] ?? [])];
      const [ld, aa] = await Promise.all(both.map((d) => settle(d.table, want(d.program), i === 0 ? START_MAX_MS : STEP_MAX_MS)));
      history.push(`== step ${i} (${step.name})\n-- ldirectord:\n${ld.join('\n')}\n-- aavip:\n${aa.join('\n')}`);
      expect(
        both.map((d) => d.running),
        `both directors still run at step ${i}\n${context()}`,
      ).toEqual([true, true]);
      expect(unmet(ld, want('ldirectord')), `ldirectord at step ${i} (${step.name})\n${context()}`).toEqual([]);
      expect(unmet(aa, want('aavip')), `aavip at step ${i} (${step.name})\n${context()}`).toEqual([]);
      if (step.differs) {
        // Apart from the named difference, the tables agree.
        expect(without(aa, step.differs.aavip), `step ${i} outside the documented difference\n${context()}`).toEqual(without(ld, step.differs.ldirectord));
        expect(ld, `the documented difference shows at step ${i}`).not.toEqual(aa);
      } else {
        expect(aa, `aavip's table against ldirectord's at step ${i} (${step.name})\n${context()}`).toEqual(ld);
      }
      if (step.ldirectordLog) expect(readFileSync(sides.ldirectord.ipvsadmLog, 'utf8')).toMatch(step.ldirectordLog);
    }
    // cleanstop (the default): both take their services out of the table when stopped.
    await Promise.all(both.map((d) => d.stop()));
    expect([render(sides.ldirectord.table), render(sides.aavip.table)], `tables after stop\n${context()}`).toEqual([[], []]);
  } finally {
    await Promise.all(both.map((d) => d.stop()));
    for (const d of both) {
      for (const s of c.servers) await d.ns.close(s.at);
      await d.ns.restoreAddresses();
    }
  }
}

async function apply(d: Director, a: Action, c: Case): Promise<void> {
  const server = (at: string) => c.servers.find((s) => s.at === at) ?? { at, kind: 'tcp' as const };
  for (const at of a.stop ?? []) await d.ns.close(at);
  for (const at of a.start ?? []) await d.ns.listen(server(at));
  for (const [at, body] of Object.entries(a.body ?? {})) await d.ns.set(at, { body });
  for (const [at, status] of Object.entries(a.status ?? {})) await d.ns.set(at, { status });
  for (const h of a.addrDown ?? []) await d.ns.address(h, false);
  for (const h of a.addrUp ?? []) await d.ns.address(h, true);
  for (const args of a.admin ?? []) await d.ipvsadm(args);
}

/** Namespaces of this test left by a run that died (its PID is gone), with what still runs in them. */
async function removeLeftovers(): Promise<void> {
  const list = await run('ip', ['netns', 'list']);
  for (const name of list.stdout.split('\n').map((l) => l.split(' ')[0])) {
    const m = /^ldd-ipvs-(\d+)-\d+[la]$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue;
    } catch {
      /* its test run is gone */
    }
    const pids = await run('ip', ['netns', 'pids', name], { allowFailure: true });
    for (const pid of pids.stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await run('ip', ['netns', 'del', name], { allowFailure: true });
  }
}

describe.skipIf(!canRun)('ldirectord and aavip drive IPVS (through an ipvsadm stand-in) to the same table', () => {
  beforeAll(async () => {
    await removeLeftovers();
    for (let i = 1; i <= SLOTS; i++) {
      const slot = { ldirectord: new Namespace(`ldd-ipvs-${process.pid}-${i}l`), aavip: new Namespace(`ldd-ipvs-${process.pid}-${i}a`) };
      slots.push(slot);
      await slot.ldirectord.create();
      await slot.aavip.create();
      freeSlots.push(slot);
    }
  });

  afterAll(async () => {
    await Promise.all([...children].map((c) => stopChild(c, 3000)));
    for (const s of slots) {
      await s.ldirectord.destroy();
      await s.aavip.destroy();
    }
    rmSync(work, { recursive: true, force: true });
  });

  describe.concurrent('cases', () => {
    for (const c of cases) it(c.name, ({ expect }) => withSlot((slot) => runCase(c, slot, expect)), 280_000);
  });
});
