// The sip negotiate check: an OPTIONS request, up on "SIP/2.0 200 OK". Over TCP a one-step
// dialogue; over UDP one datagram on a connected socket (only the server's replies arrive, and a
// closed port comes back as ECONNREFUSED), the socket the life cycle's to close.
import { isIPv6 } from 'node:net';
import { dialogue } from './dialogue.js';
import type { CheckType } from './lifecycle.js';
import { fail, ok } from './result.js';
import type { CheckTarget } from './target.js';

function options(t: CheckTarget): string {
  const id = Date.now();
  return [
    `OPTIONS sip:${t.login} SIP/2.0`,
    `Via: SIP/2.0/${t.protocol === 'tcp' ? 'TCP' : 'UDP'} ${t.host}:${t.port};branch=z9hG4bK${id}`,
    `From: <sip:${t.login}>;tag=aavip`,
    `To: <sip:${t.login}>`,
    `Call-ID: ${id}@aavip`,
    'CSeq: 1 OPTIONS',
    `Contact: <sip:${t.login}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export const sip: CheckType = {
  run: (run, t) => {
    const msg = options(t);
    if (t.protocol === 'tcp') {
      dialogue(run, t, false, [{ send: msg.trimEnd(), expect: /^SIP\/2\.0 200 OK/ }]);
      return;
    }
    const s = run.udp(isIPv6(t.host) ? 'udp6' : 'udp4');
    s.on('message', (m: Buffer) => {
      const first = m.toString('latin1', 0, Math.min(m.length, 200)).split('\r\n')[0];
      run.settle(first.startsWith('SIP/2.0 200 OK') ? ok(first) : fail(first));
    });
    s.connect(t.port, t.host, () => s.send(msg));
  },
};
