// Line-protocol dialogues (smtp, pop, imap, ftp, nntp, sip over TCP): read a greeting, send lines,
// expect each reply's first line to match. Event-driven on the check's one socket: when the check
// settles — at a wrong reply, the end, a too-long line or the deadline — the life cycle closes it.
import { isIP } from 'node:net';
import type { CheckRun } from './lifecycle.js';
import { LineReader } from './lines.js';
import { fail, ok } from './result.js';
import type { CheckTarget } from './target.js';

/** A reply line longer than this (a server streaming garbage) fails the check. */
export const MAX_LINE = 64 * 1024;

export interface Step {
  send?: string;
  expect: RegExp;
}

/** A multi-line reply ("250-...") continues until its last line. */
const CONTINUED = /^\d{3}-/;

export function dialogue(run: CheckRun, t: CheckTarget, tls: boolean, steps: readonly Step[]): void {
  const s = tls ? run.tls({ host: t.host, port: t.port, rejectUnauthorized: false, servername: isIP(t.host) ? undefined : t.host }) : run.tcp(t.host, t.port);
  const lines = new LineReader(MAX_LINE);
  let at = 0;
  const send = () => {
    const line = steps[at].send;
    if (line !== undefined) s.write(`${line}\r\n`);
  };
  s.once(tls ? 'secureConnect' : 'connect', send);
  s.on('data', (chunk: Buffer) => {
    for (const line of lines.push(chunk)) {
      if (CONTINUED.test(line)) continue;
      if (!steps[at].expect.test(line)) {
        run.settle(fail(`unexpected reply: ${line.slice(0, 80)}`));
        return;
      }
      if (++at === steps.length) {
        run.settle(ok('dialogue complete'));
        return;
      }
      send();
    }
    if (lines.overflowed) run.settle(fail(`${t.service}: a reply line longer than ${MAX_LINE} bytes`));
  });
  s.on('end', () => run.settle(fail('connection closed')));
}
