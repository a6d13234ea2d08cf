// The simpletcp negotiate check: send the request (its `\n` escapes as newlines), half-close, and
// up when a line of the reply matches the receive string. At most MAX_REPLY bytes are read.
import type { CheckType } from './lifecycle.js';
import { fail, ok } from './result.js';

const MAX_REPLY = 64 * 1024;

export const simpletcp: CheckType = {
  run: (run, t) => {
    const s = run.tcp(t.host, t.port);
    const parts: Buffer[] = [];
    let held = 0;
    const judge = () => {
      const re = new RegExp(t.receive);
      run.settle(
        Buffer.concat(parts)
          .toString('latin1')
          .split('\n')
          .some((l) => re.test(l))
          ? ok('matched')
          : fail('no line matches'),
      );
    };
    s.once('connect', () => s.end(t.request.replace(/^\//, '').replace(/\\n/g, '\n')));
    s.on('data', (chunk: Buffer) => {
      parts.push(chunk.subarray(0, MAX_REPLY - held));
      held += Math.min(chunk.length, MAX_REPLY - held);
      if (held >= MAX_REPLY) judge();
    });
    s.on('end', judge);
  },
};
