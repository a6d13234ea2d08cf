// The mail, news and file-transfer negotiate checks: line dialogues as ldirectord scripts them.
import { dialogue, type Step } from './dialogue.js';
import type { CheckType } from './lifecycle.js';
import type { CheckTarget } from './target.js';

const smtpSteps: Step[] = [{ expect: /^220/ }, { send: 'EHLO aavip', expect: /^250/ }, { send: 'QUIT', expect: /^221/ }];

/** Unlike ldirectord (which calls a POP server up even when unreachable if no login is set), connect and greet. */
const popSteps = (t: CheckTarget): Step[] => [
  { expect: /^\+OK/ },
  ...(t.login
    ? [
        { send: `USER ${t.login}`, expect: /^\+OK/ },
        { send: `PASS ${t.passwd}`, expect: /^\+OK/ },
      ]
    : []),
  { send: 'QUIT', expect: /^\+OK/ },
];

const imapSteps = (t: CheckTarget): Step[] => [
  { expect: /^\* OK/ },
  ...(t.login ? [{ send: `a1 LOGIN ${t.login} ${t.passwd}`, expect: /^a1 OK/ }] : []),
  { send: 'a2 LOGOUT', expect: /^\* BYE|^a2 OK/ },
];

const ftpSteps = (t: CheckTarget): Step[] => [
  { expect: /^220/ },
  { send: `USER ${t.login || 'anonymous'}`, expect: /^(331|230)/ },
  { send: `PASS ${t.passwd}`, expect: /^230/ },
  { send: 'QUIT', expect: /^221/ },
];

const nntpSteps: Step[] = [{ expect: /^2/ }];

export const smtp: CheckType = { run: (run, t) => dialogue(run, t, false, smtpSteps) };
export const pop: CheckType = { run: (run, t) => dialogue(run, t, false, popSteps(t)) };
export const pops: CheckType = { run: (run, t) => dialogue(run, t, true, popSteps(t)) };
export const imap: CheckType = { run: (run, t) => dialogue(run, t, false, imapSteps(t)) };
export const imaps: CheckType = { run: (run, t) => dialogue(run, t, true, imapSteps(t)) };
export const ftp: CheckType = { run: (run, t) => dialogue(run, t, false, ftpSteps(t)) };
export const nntp: CheckType = { run: (run, t) => dialogue(run, t, false, nntpSteps) };
