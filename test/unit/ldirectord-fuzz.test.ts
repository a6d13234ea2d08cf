// Property-based tests of the ldirectord.cf parser: generated files in many layouts parse to the
// model they were generated from; mutated files, token soups and arbitrary text never crash it
// (only InputError, naming a line of the file), never hang it, and never yield a malformed model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { desiredWhenHealthy } from '../../src/lvs/config/desired.js';
import { SERVICE_BY_PORT, SERVICES, type LdirectordConfig } from '../../src/lvs/config/model.js';
import { MAX_LINE_LENGTH, parseLdirectordConfig } from '../../src/lvs/config/parse.js';

const parse = (text: string) => parseLdirectordConfig(text, 'fuzz.cf', { hostname: 'director' });

// ---- generated valid files ---------------------------------------------------------------

interface GenReal {
  address: string;
  port?: number;
  method: 'gate' | 'masq' | 'ipip';
  weight?: number;
  rr?: [string, string];
  lower?: number;
  upper?: number;
}
interface GenVirtual {
  kind: 'v4' | 'v6' | 'fwm';
  host: number;
  port: number;
  reals: GenReal[];
  scheduler?: string;
  persistent?: number;
  checktype?: string | number;
  service?: string;
  quiescent?: boolean;
  checktimeout?: number;
}
interface Layout {
  indent: string[];
  spaced: boolean;
  comments: boolean[];
  blank: boolean[];
}

const word = fc.stringMatching(/^[a-z0-9/._-]{1,10}$/);
const arbReal = (v6: boolean) =>
  fc.record(
    {
      address: v6
        ? fc.integer({ min: 1, max: 0xffff }).map((n) => `2001:db8::${n.toString(16)}`)
        : fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 254 })).map(([a, b]) => `198.19.${a}.${b}`),
      port: fc.option(fc.constantFrom(0, 80, 443, 8080, 53, 65535), { nil: undefined }),
      method: fc.constantFrom('gate' as const, 'masq' as const, 'ipip' as const),
      weight: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
      rr: fc.option(fc.tuple(word, fc.stringMatching(/^[A-Za-z0-9^$.]{0,10}$/)), { nil: undefined }),
      lower: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
      upper: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
    },
    { requiredKeys: ['address', 'method'] },
  );

const arbVirtual: fc.Arbitrary<GenVirtual> = fc
  .record(
    {
      kind: fc.constantFrom('v4' as const, 'v6' as const, 'fwm' as const),
      host: fc.integer({ min: 1, max: 254 }),
      port: fc.constantFrom(21, 25, 53, 80, 443, 3306, 8080, 9000, 0),
      scheduler: fc.option(fc.constantFrom('rr', 'wrr', 'lc', 'wlc', 'sh', 'mh'), { nil: undefined }),
      persistent: fc.option(fc.integer({ min: 0, max: 86400 }), { nil: undefined }),
      checktype: fc.option(
        fc.oneof(fc.constantFrom('connect', 'negotiate', 'ping', 'external', 'external-perl', 'on', 'off'), fc.integer({ min: 0, max: 50 })),
        { nil: undefined },
      ),
      service: fc.option(fc.constantFrom(...SERVICES), { nil: undefined }),
      quiescent: fc.option(fc.boolean(), { nil: undefined }),
      checktimeout: fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
    },
    { requiredKeys: ['kind', 'host', 'port'] },
  )
  .chain((v) => fc.array(arbReal(v.kind === 'v6'), { maxLength: 6 }).map((reals) => ({ ...v, reals })));

const vid = (v: GenVirtual) => (v.kind === 'fwm' ? `fwm:${v.host}` : `${v.kind}:${v.host}:${v.port}`);
const arbFile = fc.record({
  virtuals: fc.uniqueArray(arbVirtual, { maxLength: 5, selector: vid }),
  globals: fc.record({
    checkinterval: fc.option(fc.integer({ min: 1, max: 3600 }), { nil: undefined }),
    quiescent: fc.option(fc.boolean(), { nil: undefined }),
    failurecount: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
  }),
  layout: fc.record({
    indent: fc.array(fc.constantFrom('\t', '    ', '\t\t', '      ', ' \t', '\t    '), { minLength: 1, maxLength: 8 }),
    spaced: fc.boolean(),
    comments: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    blank: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  }),
});

const yn = (b: boolean) => (b ? 'yes' : 'no');

function render(file: { virtuals: GenVirtual[]; globals: { checkinterval?: number; quiescent?: boolean; failurecount?: number }; layout: Layout }): string {
  const { layout } = file;
  let k = 0;
  const pick = <T>(xs: T[]) => xs[k++ % xs.length];
  const eq = (key: string, value: string) => (layout.spaced ? `${key} = ${value}` : `${key}=${value}`);
  const out: string[] = ['# generated'];
  const g = file.globals;
  if (g.checkinterval !== undefined) out.push(eq('checkinterval', String(g.checkinterval)));
  if (g.quiescent !== undefined) out.push(eq('quiescent', yn(g.quiescent)));
  if (g.failurecount !== undefined) out.push(eq('failurecount', String(g.failurecount)));
  for (const v of file.virtuals) {
    if (pick(layout.blank)) out.push('');
    out.push(
      v.kind === 'fwm'
        ? eq('virtual', String(v.host))
        : v.kind === 'v4'
          ? eq('virtual', `198.18.0.${v.host}:${v.port}`)
          : eq('virtual6', `[2001:db8::${v.host.toString(16)}]:${v.port}`),
    );
    // Lines that tolerate a trailing comment (trailing blanks after a yes/no do not).
    const body: [string, boolean][] = [];
    for (const r of v.reals) {
      const parts = [`${r.address.includes(':') ? `[${r.address}]` : r.address}${r.port !== undefined ? `:${r.port}` : ''}`, r.method];
      if (r.weight !== undefined) parts.push(String(r.weight));
      if (r.rr) parts.push(`"${r.rr[0]}"${pick(layout.comments) ? ',' : ' '}"${r.rr[1]}"`);
      if (r.lower !== undefined) parts.push(`l:${r.lower}`);
      if (r.upper !== undefined) parts.push(`u:${r.upper}`);
      body.push([eq(v.kind === 'v6' ? 'real6' : 'real', parts.join(' ')), true]);
    }
    if (v.scheduler) body.push([eq('scheduler', v.scheduler), true]);
    if (v.persistent !== undefined) body.push([eq('persistent', String(v.persistent)), true]);
    if (v.checktype !== undefined) body.push([eq('checktype', String(v.checktype)), true]);
    if (v.service) body.push([eq('service', v.service), true]);
    if (v.checktimeout !== undefined) body.push([eq('checktimeout', String(v.checktimeout)), true]);
    if (v.quiescent !== undefined) body.push([eq('quiescent', yn(v.quiescent)), false]);
    for (const [text, commentable] of body) {
      if (pick(layout.comments)) out.push(`${pick(layout.indent)}# about ${text.slice(0, 5)}`);
      out.push(`${pick(layout.indent)}${text}${commentable && pick(layout.comments) ? '   # note "x"' : ''}`);
      if (pick(layout.blank) && pick(layout.comments)) out.push('');
    }
  }
  return out.join('\n') + (pick(layout.blank) ? '\n' : '');
}

function expectModel(c: LdirectordConfig, file: { virtuals: GenVirtual[]; globals: { checkinterval?: number; quiescent?: boolean; failurecount?: number } }) {
  expect(c.globals).toMatchObject({
    checkinterval: file.globals.checkinterval ?? 10,
    quiescent: file.globals.quiescent ?? false,
    failurecount: file.globals.failurecount ?? 1,
  });
  expect(c.virtualServices).toHaveLength(file.virtuals.length);
  file.virtuals.forEach((g, n) => {
    const v = c.virtualServices[n];
    if (g.kind === 'fwm') expect(v).toMatchObject({ protocol: 'fwm', family: 4, fwmark: g.host });
    else {
      expect(v).toMatchObject({ family: g.kind === 'v6' ? 6 : 4, port: g.port, protocol: g.port === 53 ? 'udp' : 'tcp' });
      expect(v.address).toBe(g.kind === 'v6' ? `2001:db8::${g.host.toString(16)}` : `198.18.0.${g.host}`);
    }
    const service = g.service ?? (g.kind === 'fwm' ? 'none' : (SERVICE_BY_PORT[g.port] ?? 'none'));
    expect({ scheduler: v.scheduler, persistent: v.persistent, service: v.service, quiescent: v.quiescent, checktimeout: v.checktimeout }).toEqual({
      scheduler: g.scheduler ?? 'wrr',
      persistent: g.persistent,
      service,
      quiescent: g.quiescent,
      checktimeout: g.checktimeout,
    });
    expect(v.checktype).toEqual(typeof g.checktype === 'number' ? { kind: 'combined', connectRounds: g.checktype } : { kind: g.checktype ?? 'negotiate' });
    expect(v.realServers.map((r) => ({ ...r, line: 0 }))).toEqual(
      g.reals.map((r) => ({
        line: 0,
        address: r.address,
        port: r.port ?? 0,
        forwarding: r.method,
        weight: r.weight ?? 1,
        request: r.rr && `/${r.rr[0].replace(/^\//, '')}`,
        receive: r.rr?.[1],
        lower: r.lower ?? 0,
        upper: r.upper ?? 0,
      })),
    );
  });
}

describe('generated files', () => {
  it('parse to the model they were generated from, whatever the layout (tabs, spaces, comments, blank lines)', () => {
    fc.assert(
      fc.property(arbFile, (file) => {
        const text = render(file);
        expectModel(parse(text), file);
      }),
      { numRuns: 400 },
    );
  });
});

// ---- robustness ------------------------------------------------------------------------------

const SEEDS = [
  render({ virtuals: [], globals: {}, layout: { indent: ['\t'], spaced: false, comments: [false], blank: [false] } }),
  'checktimeout=2\nquiescent=no\nvirtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 5\n\treal=127.0.0.3->127.0.0.9:8080 masq\n\tfallback=127.0.0.1:8081 masq\n\tservice=http\n\trequest="index.html"\n\treceive="OK"\n\tscheduler=rr\n',
  'virtual=5\n\treal=127.0.0.2 gate\n\tchecktype=on\n\tscheduler=sh\n\tpersistent=300\n\tnetmask=255.255.255.0\n',
  'virtual6=[::1]:80\n\treal6=[::1]:8080 masq "a","b" l:1 u:2\n\tchecktype=on\nvirtual6=7\n\treal6=[::1] gate\n\tnetmask=64\n',
  'quiescent=yes\nreaddquiescent=yes\nfallback=127.0.0.1:80\nemailalertstatus=starting,running\nvirtual=127.0.0.100:53\n\treal=127.0.0.2:53 gate\n\tchecktype=3\n',
];
const TOKENS = [
  'virtual=',
  'virtual6=',
  'real=',
  'real6=',
  'fallback=',
  '\t',
  '    ',
  '   ',
  '#',
  '"',
  '=',
  ':',
  '->',
  ' ',
  '\n',
  '\r\n',
  'gate',
  'masq',
  'ipip',
  '127.0.0.1',
  '10.0.0.255',
  '[::1]',
  '[',
  ']',
  '80',
  '53',
  'domain',
  '0',
  '65536',
  '4294967296',
  '99999999999999999999',
  'yes',
  'no',
  'checktype=',
  'service=http',
  'scheduler=',
  'netmask=',
  'protocol=fwm',
  'l:5',
  'u:',
  '"l:5"',
  'request=',
  'receive=',
  'x',
  '-',
  ',',
  'supervised',
  'emailalertstatus=',
  'none',
  'all',
  'localhost',
  '\u00e9',
  '\u0000',
];

/** Parses `text`; a rejection must be an InputError naming a line of the text. Returns the time taken. */
function survives(text: string): number {
  const started = performance.now();
  let config: LdirectordConfig | undefined;
  try {
    config = parse(text);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    expect(e.where.file).toBe('fuzz.cf');
    expect(Number.isInteger(e.where.line)).toBe(true);
    expect(e.where.line).toBeGreaterThanOrEqual(1);
    expect(e.where.line).toBeLessThanOrEqual(Math.max(1, text.split('\n').length));
    expect(e.message.length).toBeGreaterThan(0);
  }
  if (config) wellFormed(config);
  return performance.now() - started;
}

/** What any accepted file must give: a model the IPVS layer can use as is. */
function wellFormed(c: LdirectordConfig) {
  for (const v of c.virtualServices) {
    if (v.protocol === 'fwm') expect(v.fwmark).toBeGreaterThanOrEqual(1);
    else {
      expect(v.port).toBeGreaterThanOrEqual(0);
      expect(v.port).toBeLessThanOrEqual(65535);
    }
    for (const r of v.realServers) {
      expect(r.address).toMatch(/^[0-9a-f.:]+$/);
      expect(Number.isInteger(r.port) && r.port >= 0 && r.port <= 65535).toBe(true);
      expect(Number.isInteger(r.weight) && r.weight >= 0).toBe(true);
    }
  }
  for (const s of desiredWhenHealthy(c)) for (const d of s.realServers) expect(d.address).toMatch(/^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f.:]+\]):\d+$/);
}

describe('robustness', () => {
  const mutation = fc.oneof(
    fc.tuple(fc.constant('insert' as const), fc.nat(), fc.constantFrom(...TOKENS)),
    fc.tuple(fc.constant('delete' as const), fc.nat(), fc.integer({ min: 1, max: 12 })),
    fc.tuple(fc.constant('duplicate-line' as const), fc.nat(), fc.nat()),
    fc.tuple(fc.constant('swap-lines' as const), fc.nat(), fc.nat()),
  );
  const mutate = (text: string, [kind, a, b]: ['insert', number, string] | ['delete' | 'duplicate-line' | 'swap-lines', number, number]): string => {
    if (kind === 'insert') {
      const i = a % (text.length + 1);
      return text.slice(0, i) + b + text.slice(i);
    }
    if (kind === 'delete') {
      const i = a % (text.length + 1);
      return text.slice(0, i) + text.slice(i + b);
    }
    const lines = text.split('\n');
    const [i, j] = [a % lines.length, b % lines.length];
    if (kind === 'duplicate-line') lines.splice(j, 0, lines[i]);
    else [lines[i], lines[j]] = [lines[j], lines[i]];
    return lines.join('\n');
  };

  it('mutated valid files: only InputErrors naming a line of the file, or a well-formed model', () => {
    const base = fc.oneof(fc.constantFrom(...SEEDS), arbFile.map(render));
    let slowest = 0;
    fc.assert(
      fc.property(base, fc.array(mutation, { minLength: 1, maxLength: 6 }), (text, ms) => {
        slowest = Math.max(slowest, survives(ms.reduce(mutate, text)));
      }),
      { numRuns: 1500 },
    );
    expect(slowest).toBeLessThan(1000);
  });

  it('token soups and arbitrary text: no crash, no hang', () => {
    let slowest = 0;
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }), (ts) => {
        slowest = Math.max(slowest, survives(ts.join('')));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (s) => {
        slowest = Math.max(slowest, survives(s));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }), (ts) => {
        slowest = Math.max(slowest, survives(`virtual=1.2.3.4:80\n\treal=${ts.join('')}\n`));
        slowest = Math.max(slowest, survives(`fallback=${ts.join('')}\n`));
      }),
      { numRuns: 2000 },
    );
    expect(slowest).toBeLessThan(1000);
  });

  it('stays fast on the longest lines it accepts, and refuses longer ones by line', () => {
    const fill = (head: string, unit: string) => head + unit.repeat(Math.floor((MAX_LINE_LENGTH - head.length) / unit.length));
    const worst = [
      fill('\treal=10.0.0.1:80 gate', ' "a" "b'),
      fill('\treal=', '1.'),
      fill('\treal=', 'a-'),
      fill('\treal=10.0.0.1:80 gate', ' '),
      fill('\treal=10.0.0.1:80 gate 1', ' "a'),
      fill('\tfallback=', 'a '),
      fill('\tfallback=', 'a:'),
      fill('\tchecktype=', 'x'),
    ];
    for (const line of worst) {
      expect(line.length).toBeLessThanOrEqual(MAX_LINE_LENGTH);
      expect(survives(`virtual=1.2.3.4:80\n${line}\n`)).toBeLessThan(1000);
      expect(survives(`virtual=1.2.3.4:80\n${line}\n`.repeat(3))).toBeLessThan(3000);
    }
    const e = (() => {
      try {
        parse(`quiescent=no\n# ${'long comments are fine '.repeat(1000)}\n${'x'.repeat(MAX_LINE_LENGTH + 1)}\n`);
      } catch (err) {
        return err as InputError;
      }
    })();
    expect(e?.where.line).toBe(3);
    expect(e?.message).toMatch(/line longer than 4096 characters/);
  });

  it('refuses address ranges and real-server counts that would not fit in memory, by line', () => {
    const lines = ['virtual=1.2.3.4:80', ...Array.from({ length: 5 }, (_, k) => `\treal=10.${k}.0.0->10.${k}.255.255:80 gate`)];
    try {
      parse(lines.join('\n'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).where.line).toBe(6);
      expect((e as InputError).message).toMatch(/more than 262144 real servers/);
    }
  });
});
