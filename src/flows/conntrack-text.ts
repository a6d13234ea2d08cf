// `conntrack -L` output as flows: one entry a line, its original-direction tuple (the first
// src=, dst=, sport=, dport=) is the flow. Also read: `-o extended` (a leading `ipv4 2`), event
// lines (`[NEW] tcp 6 ...`), and the tool's closing "N flow entries have been shown." line.
import { InputError } from '../errors.js';
import { port } from '../hash/csv.js';
import { parseAddress, type Flow } from '../hash/flow.js';

/** An entry's start: `[ipv4 2 ]tcp 6 ` — protocol name and number. */
const ENTRY = /^(?:\[[A-Z]+\]\s+)?(?:ipv[46]\s+\d+\s+)?([a-z][a-z0-9-]*)\s+(\d{1,3})\s/;
const SUMMARY = /^conntrack v\S+ \(conntrack-tools\): \d+ flow entr(y has|ies have) been shown\.$/;

/** Whether a line looks like a conntrack entry (for telling the format of a file). */
export function isConntrackEntry(line: string): boolean {
  return ENTRY.test(line.trim()) && / src=\S+ dst=\S+/.test(line);
}

// Port-less protocols (icmp: type=, code=, id=) have no sport=/dport=: the models hash them as 0.
const portOf = (text: string | undefined, field: string, file: string, line: number) => (text === undefined ? 0 : port(text, field, file, line));

/** The flow of one line; undefined for a blank line, a comment or the closing summary. */
export function parseConntrackLine(text: string, line: number, file: string): Flow | undefined {
  const t = text.trim();
  if (t === '' || t.startsWith('#') || SUMMARY.test(t)) return undefined;
  const entry = t.match(ENTRY);
  if (!entry) throw new InputError("not a conntrack entry (expected 'PROTOCOL NUMBER ... src=... dst=...')", { file, line });
  const proto = Number(entry[2]);
  if (proto > 255) throw new InputError(`'${entry[2]}' is not a protocol number`, { file, line, field: 'protocol' });
  // The original direction: the key=value pairs before the second src= (the reply's).
  const fields = new Map<string, string>();
  for (const token of t.slice(entry[0].length).split(/\s+/)) {
    const eq = token.indexOf('=');
    if (eq < 1) continue;
    const key = token.slice(0, eq);
    if (fields.has(key)) {
      if (key === 'src') break;
      continue;
    }
    fields.set(key, token.slice(eq + 1));
  }
  const address = (field: 'src' | 'dst') => {
    const value = fields.get(field);
    if (value === undefined) throw new InputError(`no ${field}= in the entry`, { file, line, field });
    const a = parseAddress(value);
    if (!a) throw new InputError(`'${value}' is not an IP address`, { file, line, field });
    return a;
  };
  const src = address('src');
  const dst = address('dst');
  if (src.family !== dst.family) throw new InputError('src and dst are of different families', { file, line, field: 'dst' });
  return { src, srcPort: portOf(fields.get('sport'), 'sport', file, line), dst, dstPort: portOf(fields.get('dport'), 'dport', file, line), proto };
}
