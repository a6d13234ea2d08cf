// The real-world ldirectord.cf corpus (../shared/corpus/ldirectord, origins in its MANIFEST.tsv),
// read in place: the files, what Debian 12's ldirectord and aavip each make of them, and the IPVS
// table aavip computes for those both accept, in `ipvsadm -S -n` form, so a test that has
// ldirectord program a real IPVS table (the VM lab) can compare the two.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FileChecks } from '../../src/lvs/config/files.js';
import { desiredFor, type IpvsServiceState } from '../../src/lvs/config/desired.js';
import type { LdirectordConfig } from '../../src/lvs/config/model.js';
import { KERNEL_SCHEDULERS } from '../../src/lvs/ipvs/memory.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

export const CORPUS_DIR = process.env.AAVIP_LDIRECTORD_CORPUS ?? resolve(PACKAGE_ROOT, '..', 'shared', 'corpus', 'ldirectord');

/** The corpus's files (full paths, sorted), or [] when the folder is absent. */
export function corpusFiles(dir = CORPUS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cf'))
    .sort()
    .map((f) => join(dir, f));
}

export type Verdict = { ok: true } | { ok: false; line: number; message: string };

export interface CorpusVerdict {
  /** What `ldirectord FILE status` says (with /var/log/ldirectord/ writable, as the corpus README asks). */
  ldirectord: Verdict;
  /** What aavip says; differs from ldirectord's only where `difference` names a row of the README's table of ldirectord's bugs. */
  aavip: Verdict;
  difference?: string;
  /** For accepted files: virtual services and real servers in aavip's model. */
  virtuals?: number;
  reals?: number;
  /** What IPVS will make of it that parsing does not show (for the VM comparison). */
  note?: string;
}

const SERVICE =
  'service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission';
const both = (v: Verdict, extra: Omit<CorpusVerdict, 'ldirectord' | 'aavip'> = {}): CorpusVerdict => ({ ldirectord: v, aavip: v, ...extra });
const refused = (line: number, message: string): CorpusVerdict => both({ ok: false, line, message });
/** A custom `service=` name (the wj-* files' own check scripts): ldirectord refuses it, so does aavip. */
const customService = (line: number) => refused(line, SERVICE);

/** Every corpus file's expected verdicts, by file name. */
export const CORPUS_VERDICTS: Readonly<Record<string, CorpusVerdict>> = {
  'brk-01-scheduler-typo.cf': both(
    { ok: true },
    { virtuals: 1, reals: 3, note: 'scheduler wrrr: any lowercase word parses; ipvsadm refuses it when the service is added' },
  ),
  'brk-04-duplicate-virtual.cf': {
    ldirectord: { ok: false, line: 27, message: 'duplicate virtual server' },
    aavip: { ok: false, line: 19, message: 'duplicate virtual server (udp:198.18.0.50:1812 is already defined at line 9)' },
    difference: 'a duplicate virtual is reported at the line after its block | at its own `virtual=` line, naming the first',
  },
  'brk-05-port-name.cf': refused(29, 'invalid port (htp) for real server (could not resolve port)'),
  'brk-07-quiescent-maybe.cf': refused(7, "quiescent must be 'yes' or 'no'"),
  'brk-09-global-typo.cf': refused(3, 'Unknown command checkintervall=2'),
  'grimli-ldirectord.cf': both({ ok: true }, { virtuals: 70, reals: 193, note: "mysql checks: Debian 12's ldirectord dies on its first (no DBD::mysql)" }),
  'k8s-gateway.cf': both({ ok: true }, { virtuals: 1, reals: 3 }),
  'lvsadm-ini.cf': refused(7, 'Unknown command [vip]'),
  'ra-sample.cf': both({ ok: true }, { virtuals: 1, reals: 3 }),
  'wj-FD.cf': customService(30),
  'wj-cf-ld.cf': customService(8),
  'wj-gprs2.cf': customService(28),
  'wj-gprs3.cf': customService(28),
  'wj-ip-safra.cf': customService(19),
  'wj-ip.cf': customService(32),
  'wj-itautec.cf': customService(32),
  'wj-ld.cf': both({ ok: true }, { virtuals: 2, reals: 4 }),
  'wj-lss-cabal.cf': customService(34),
  'wj-lss-safra.cf': customService(31),
  'wj-lss.cf': customService(35),
  'wj-m2m.cf': customService(28),
  'wj-mariadb.cf': both({ ok: true }, { virtuals: 1, reals: 2, note: "mysql check: Debian 12's ldirectord dies on it (no DBD::mysql)" }),
  'wj-pdvlss.cf': customService(35),
  'wj-poslss-redecard.cf': customService(33),
  'wj-poslss.cf': customService(33),
  'wj-radius.cf': both({ ok: true }, { virtuals: 2, reals: 4 }),
  'wj-teflss-redecard.cf': customService(33),
};

/** A directory standing in for /var/log (ldirectord is given it by a bind mount; aavip's checks by this). */
export function varLogChecks(base: FileChecks, varLog: string): FileChecks {
  const map = (p: string) => (p === '/var/log' || p.startsWith('/var/log/') ? varLog + p.slice('/var/log'.length) : p);
  return { appendError: (p) => base.appendError(map(p)), isDirectory: (p) => base.isDirectory(map(p)) };
}

function saveLines(s: IpvsServiceState): string[] {
  const six = s.family === 6 ? ' -6' : '';
  const svc = s.protocol === 'fwm' ? `-f ${s.address}${six}` : `-${s.protocol === 'tcp' ? 't' : 'u'} ${s.address}`;
  const persist = s.persistent !== null ? ` -p ${s.persistent}${s.netmask ? ` -M ${s.netmask}` : ''}` : '';
  const head = `-A ${svc} -s ${s.scheduler}${persist}${s.ops ? ' -o' : ''}${s.schedflags ? ` -b ${s.schedflags}` : ''}`;
  const fwd = { gate: '-g', masq: '-m', ipip: '-i' } as const;
  return [
    head,
    ...s.realServers.map(
      (d) => `-a ${svc} -r ${d.address} ${fwd[d.forwarding]} -w ${d.weight}${d.upper ? ` -x ${d.upper}` : ''}${d.lower ? ` -y ${d.lower}` : ''}`,
    ),
  ];
}

/**
 * The IPVS table aavip asks for with every real server down (what a director gets where none is
 * reachable), as `ipvsadm -S -n` prints it (up to the order of lines, which the caller sorts).
 */
export function tableWhenAllDown(config: LdirectordConfig): string[] {
  return desiredFor(config, () => false).flatMap(saveLines);
}

/**
 * The IPVS table the ldirectord role leaves on a real kernel where no real server answers: reals
 * whose check cannot fail (checktype=on; service=none, never checked) stay up, every other one is
 * down; a service whose scheduler the kernel lacks is refused by it (the others carry on).
 */
export function tableWhenNoneAnswers(config: LdirectordConfig): string[] {
  const cannotFail = (v: LdirectordConfig['virtualServices'][number]) =>
    v.checktype.kind === 'on' || (v.service === 'none' && (v.checktype.kind === 'negotiate' || v.checktype.kind === 'combined'));
  return desiredFor(config, (v) => cannotFail(v))
    .filter((s) => KERNEL_SCHEDULERS.has(s.scheduler))
    .flatMap(saveLines);
}
