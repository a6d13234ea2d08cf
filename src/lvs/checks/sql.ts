// The mysql and pgsql negotiate checks: the first bytes of the server's side of a login.
import type { CheckRun, CheckType } from './lifecycle.js';
import { fail, ok, type CheckResult } from './result.js';
import type { CheckTarget } from './target.js';

/** Reads until `need` bytes have come (or the connection ends), then judges them. */
function firstBytes(run: CheckRun, t: CheckTarget, need: number, hello: Buffer | undefined, judge: (b: Buffer) => CheckResult): void {
  const s = run.tcp(t.host, t.port);
  const parts: Buffer[] = [];
  let held = 0;
  if (hello) s.once('connect', () => s.write(hello));
  s.on('data', (chunk: Buffer) => {
    parts.push(chunk);
    held += chunk.length;
    if (held >= need) run.settle(judge(Buffer.concat(parts)));
  });
  s.on('end', () => run.settle(held > 0 ? judge(Buffer.concat(parts)) : fail('connection closed')));
}

// The server speaks first: a handshake packet (protocol 10) means mysqld is accepting clients.
export const mysql: CheckType = {
  run: (run, t) =>
    firstBytes(run, t, 5, undefined, (b) =>
      b.length > 4 && b[4] === 10 ? ok('server greeting') : fail(b[4] === 0xff ? 'server refused the connection' : 'not a MySQL greeting'),
    ),
};

// A startup message; an authentication request ('R') means postgres is serving.
export const pgsql: CheckType = {
  run: (run, t) => {
    const params = Buffer.from(`user\0${t.login || 'postgres'}\0database\0${t.database || 'postgres'}\0\0`);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + params.length, 0);
    head.writeUInt32BE(196608, 4);
    firstBytes(run, t, 1, Buffer.concat([head, params]), (b) =>
      b[0] === 0x52 ? ok('authentication requested') : fail(`replied '${String.fromCharCode(b[0])}'`),
    );
  },
};
