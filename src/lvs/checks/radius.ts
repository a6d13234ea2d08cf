// The RADIUS negotiate check, as ldirectord's check_radius does it with Authen::Radius: one
// Access-Request (RFC 2865) with User-Name = login, User-Password = passwd hidden with the secret,
// and the NAS address, sent once over UDP (Authen::Radius does not retransmit) and answered within
// the timeout. The first reply decides: its Response Authenticator (and Message-Authenticator, if
// it carries one) must verify with the secret, and only an Access-Accept is up. An Access-Reject
// is down: ldirectord tests check_pwd's result against "", and check_pwd returns
// `defined($rcv) and $rcv == ACCESS_ACCEPT`, which is "" for a reject as for an error.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { parseAddress } from '../../hash/flow.js';
import { startCheck, type CheckRun, type CheckType } from './lifecycle.js';
import { errorText, fail, ok, type CheckResult } from './result.js';
import type { CheckTarget } from './target.js';

const ACCESS_REQUEST = 1;
const ACCESS_ACCEPT = 2;
const CODE_NAMES: Record<number, string> = { 2: 'Access-Accept', 3: 'Access-Reject', 11: 'Access-Challenge' };
const USER_NAME = 1;
const USER_PASSWORD = 2;
const NAS_IP_ADDRESS = 4;
const MESSAGE_AUTHENTICATOR = 80;
const NAS_IPV6_ADDRESS = 95;
const HEADER = 20;

function attribute(type: number, value: Buffer): Buffer {
  if (value.length > 253) throw new Error(`RADIUS attribute ${type} longer than 253 bytes`);
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}

/**
 * RFC 2865 5.2: the password in 16-byte blocks, each XORed with MD5(secret | previous cipher
 * block), the first with the request authenticator. Like Authen::Radius, an empty password is
 * sent empty rather than as one block of padding.
 */
function hidePassword(passwd: Buffer, secret: Buffer, authenticator: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil(passwd.length / 16) * 16);
  passwd.copy(out);
  let previous = authenticator;
  for (let i = 0; i < out.length; i += 16) {
    const pad = createHash('md5').update(secret).update(previous).digest();
    for (let j = 0; j < 16; j++) out[i + j] ^= pad[j];
    previous = out.subarray(i, i + 16);
  }
  return out;
}

/** Why a reply does not answer our request, as Authen::Radius's recv_packet judges it; undefined if it does. */
function replyProblem(reply: Buffer, requestAuthenticator: Buffer, secret: Buffer): string | undefined {
  if (reply.length < HEADER) return 'reply shorter than a RADIUS header';
  // As Authen::Radius: the header as received and every byte after it, whatever the length field says.
  const attrs = reply.subarray(HEADER);
  const expected = createHash('md5').update(reply.subarray(0, 4)).update(requestAuthenticator).update(attrs).update(secret).digest();
  if (!expected.equals(reply.subarray(4, HEADER))) return 'bad response authenticator';
  for (let at = 0; at + 2 <= attrs.length; at += attrs[at + 1]) {
    if (attrs[at + 1] < 2) return 'malformed attribute';
    if (attrs[at] !== MESSAGE_AUTHENTICATOR) continue;
    if (attrs[at + 1] !== 18 || at + 18 > attrs.length) return 'bad Message-Authenticator';
    // RFC 3579 3.2: HMAC-MD5 over the reply with the request authenticator and this attribute zeroed.
    const zeroed = Buffer.from(attrs);
    zeroed.fill(0, at + 2, at + 18);
    const mac = createHmac('md5', secret).update(reply.subarray(0, 4)).update(requestAuthenticator).update(zeroed).digest();
    return mac.equals(attrs.subarray(at + 2, at + 18)) ? undefined : 'bad Message-Authenticator';
  }
  return undefined;
}

function radiusBody(run: CheckRun, t: CheckTarget): void {
  const s = run.udp(isIPv6(t.host) ? 'udp6' : 'udp4');
  const secret = Buffer.from(t.secret);
  const authenticator = randomBytes(16);
  // A connected socket: only the server's datagrams arrive, and an ICMP port unreachable comes
  // back as ECONNREFUSED (the life cycle's error listener: down at once, as Authen::Radius's failed recv).
  s.on('message', (reply: Buffer) => {
    const problem = replyProblem(reply, authenticator, secret);
    if (problem) run.settle(fail(problem));
    else {
      const name = CODE_NAMES[reply[0]] ?? `RADIUS code ${reply[0]}`;
      run.settle(reply[0] === ACCESS_ACCEPT ? ok(name) : fail(name));
    }
  });
  s.connect(t.port, t.host, (err?: Error) => {
    if (err) {
      run.settle(fail(errorText(err)));
      return;
    }
    try {
      // The NAS address is the socket's own, as Authen::Radius sends it (127.0.0.1 if unknown).
      const local = parseAddress(s.address().address.replace(/%.*$/, ''));
      const nas =
        local?.family === 6 ? attribute(NAS_IPV6_ADDRESS, Buffer.from(local.bytes)) : attribute(NAS_IP_ADDRESS, Buffer.from(local?.bytes ?? [127, 0, 0, 1]));
      const attrs = Buffer.concat([
        attribute(USER_NAME, Buffer.from(t.login)),
        attribute(USER_PASSWORD, hidePassword(Buffer.from(t.passwd), secret, authenticator)),
        nas,
      ]);
      const head = Buffer.alloc(4);
      head[0] = ACCESS_REQUEST;
      head[1] = randomBytes(1)[0];
      head.writeUInt16BE(HEADER + attrs.length, 2);
      s.send(Buffer.concat([head, authenticator, attrs]), (e) => {
        if (e) run.settle(fail(errorText(e)));
      });
    } catch (e) {
      run.settle(fail(errorText(e)));
    }
  });
}

export const radius: CheckType = { run: radiusBody };

/** The radius check on its own life cycle (as the registry runs it). */
export const radiusCheck = (t: CheckTarget): Promise<CheckResult> => startCheck(t.service, radius, t);
