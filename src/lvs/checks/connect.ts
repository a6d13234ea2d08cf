// The connect check: up when a TCP connection is made.
import type { CheckType } from './lifecycle.js';
import { ok } from './result.js';

export const connect: CheckType = {
  run: (run, t) => {
    run.tcp(t.host, t.port).once('connect', () => run.settle(ok('connected')));
  },
};
