// aavip(1), written from the command tree itself at package build time, so every command and
// option it lists is one the program has, described with the program's own words.
import type { Command, Help } from 'commander';

/** Text as roff shows it: no request at the start of a line, a backslash and a minus literal. */
export function roff(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** `-f, --file <file>` → the flags in bold, the argument in italics. */
function term(text: string): string {
  const m = /^(.*?)(\s+[<[].*)?$/.exec(text);
  const flags = m?.[1] ?? text;
  const arg = m?.[2]?.trim();
  return `\\fB${roff(flags)}\\fR${arg ? ` \\fI${roff(arg)}\\fR` : ''}`;
}

function commandSection(help: Help, cmd: Command): string[] {
  const out = [`.SS "${roff(help.commandUsage(cmd))}"`, roff(help.commandDescription(cmd))];
  for (const a of help.visibleArguments(cmd)) {
    const d = help.argumentDescription(a);
    if (d) out.push('.TP', `\\fI${roff(help.argumentTerm(a))}\\fR`, roff(d));
  }
  for (const o of help.visibleOptions(cmd)) {
    if (o.long === '--help') continue;
    out.push('.TP', term(help.optionTerm(o)), roff(help.optionDescription(o)));
  }
  return out;
}

/** Every command that does something or has options of its own, depth first as `--help` lists them. */
function commands(help: Help, cmd: Command): Command[] {
  return help.visibleCommands(cmd).flatMap((sub) => {
    if (sub.name() === 'help') return [];
    const children = commands(help, sub);
    const ownOptions = help.visibleOptions(sub).some((o) => o.long !== '--help');
    return children.length === 0 || ownOptions ? [sub, ...children] : children;
  });
}

const FIXED = {
  description: [
    'Several Linux nodes carry the same virtual IP and the same multicast MAC. Every frame reaches',
    'every node; each kernel hashes the packet into one of B buckets (nftables jhash, iptables',
    'CLUSTERIP or xt_cluster) and accepts only the buckets its node owns. An embedded, authenticated',
    "membership moves a dead node's buckets to the survivors; an ldirectord-compatible health checker",
    'sets the IPVS weights of the real servers behind the VIP.',
    '.PP',
    '`aavip up` runs the cluster daemon (the aavip.service systemd unit); `aavip vip` drives one VIP',
    'by hand; the OCF agents ocf:aavip:vip and ocf:aavip:ldirectord serve Pacemaker clusters.',
  ],
  files: [
    ['/etc/aavip/cluster.yaml', 'the cluster configuration that aavip up and the systemd unit read'],
    ['/etc/aavip/authkey', "the heartbeats' shared key (mode 0600; not shipped: make one per cluster)"],
    ['/etc/ha.d/ldirectord.cf', "the ldirectord role's configuration, looked for as ldirectord does"],
    ['/run/aavip', 'control sockets, locks and lab state'],
    ['/var/lib/aavip', "each node's incarnation number, kept across restarts"],
    ['/usr/lib/ocf/resource.d/aavip', 'the OCF resource agents vip and ldirectord'],
    ['/usr/share/doc/aavip/examples', 'example configurations, Pacemaker scripts included'],
  ],
  environment: [
    ['AAVIP_LOG_LEVEL', 'pino log level (default info)'],
    ['AAVIP_DEBUG', 'set to 1 to print a stack with every error'],
    ['AAVIP_RUN_DIR', 'instead of /run/aavip'],
    ['AAVIP_STATE_DIR', 'instead of /var/lib/aavip'],
    ['AAVIP_IPVSADM', 'the ipvsadm command the ipvsadm backend runs'],
  ],
};

const tagged = (rows: string[][]) => rows.flatMap(([t, d]) => ['.TP', `\\fB${roff(t)}\\fR`, roff(d)]);

/** The man page, roff source. `date` is YYYY-MM-DD. */
export function renderManPage(program: Command, version: string, date: string): string {
  const help = program.createHelp();
  const lines = [
    `.TH AAVIP 1 "${date}" "aavip ${roff(version)}" "User Commands"`,
    '.SH NAME',
    'aavip \\- active/active virtual IPs for Linux',
    '.SH SYNOPSIS',
    '.B aavip',
    '.I command',
    '.RI [ options ]',
    '.br',
    '.B aavip',
    '.RB [ \\-\\-version | \\-\\-help ]',
    '.SH DESCRIPTION',
    ...FIXED.description.map((l) => (l.startsWith('.') ? l : roff(l))),
    '.SH COMMANDS',
    `Every command takes \\fB\\-\\-help\\fR. ${roff('`aavip help COMMAND` shows the same.')}`,
    ...commands(help, program).flatMap((c) => commandSection(help, c)),
    '.SH FILES',
    ...tagged(FIXED.files),
    '.SH ENVIRONMENT',
    ...tagged(FIXED.environment),
    '.SH EXIT STATUS',
    '0 on success; 2 for bad input (a usage error, a wrong configuration: nothing was applied);',
    '1 for any other failure (the daemon not running, a refused request, a failing system call).',
    '.SH SEE ALSO',
    '.BR nft (8),',
    '.BR ip (8),',
    '.BR ipvsadm (8),',
    '.BR ldirectord (8),',
    '.BR crm (8),',
    '.BR pcs (8),',
    '.BR systemctl (1)',
  ];
  return `${lines.join('\n')}\n`;
}
