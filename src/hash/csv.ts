// Flows as CSV text: `src_ip,src_port,dst_ip,dst_port,proto`, one a line, header optional.
import { InputError } from '../errors.js';
import { parseAddress, parseProtocol, type Flow } from './flow.js';

const FIELDS = ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'proto'] as const;

/** A port number of a text field; an InputError naming the file, line and field otherwise. */
export function port(text: string, field: string, file: string, line: number): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new InputError(`'${text}' is not a port (0..65535)`, { file, line, field });
  return Number(text);
}

/** Parses one CSV line; undefined for a blank line, a comment or the header. */
export function parseFlowLine(text: string, line: number, file = 'stdin'): Flow | undefined {
  const t = text.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const cols = t.split(',').map((c) => c.trim());
  if (line === 1 && cols[0] === 'src_ip') return undefined;
  if (cols.length !== 5) throw new InputError(`expected 5 fields (${FIELDS.join(',')}), found ${cols.length}`, { file, line });
  const src = parseAddress(cols[0]);
  if (!src) throw new InputError(`'${cols[0]}' is not an IP address`, { file, line, field: 'src_ip' });
  const dst = parseAddress(cols[2]);
  if (!dst) throw new InputError(`'${cols[2]}' is not an IP address`, { file, line, field: 'dst_ip' });
  if (src.family !== dst.family) throw new InputError('src_ip and dst_ip are of different families', { file, line, field: 'dst_ip' });
  const proto = parseProtocol(cols[4]);
  if (proto === undefined) throw new InputError(`'${cols[4]}' is not a protocol name or number`, { file, line, field: 'proto' });
  return { src, srcPort: port(cols[1], 'src_port', file, line), dst, dstPort: port(cols[3], 'dst_port', file, line), proto };
}
