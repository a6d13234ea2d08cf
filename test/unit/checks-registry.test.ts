// The check registry: every service the configuration model knows has its own negotiate check,
// and a service without one is an explicit error (down, naming it), never another service's check.
import { describe, expect, it } from 'vitest';
import { negotiateCheck, type CheckTarget } from '../../src/lvs/checks/checks.js';
import { NEGOTIATE_CHECKS, negotiateCheckFor } from '../../src/lvs/checks/registry.js';
import { SERVICES } from '../../src/lvs/config/model.js';

describe('the check registry', () => {
  it('has a check for every service, and nothing else', () => {
    expect(Object.keys(NEGOTIATE_CHECKS).sort()).toEqual([...SERVICES].sort());
    for (const s of SERVICES) expect(typeof negotiateCheckFor(s).run).toBe('function');
  });

  it('refuses a service it does not know, naming it', () => {
    expect(() => negotiateCheckFor('gopher')).toThrow(/^no negotiate check for service "gopher" \(known: dns, ftp, /);
    expect(() => negotiateCheckFor('toString')).toThrow(/service "toString"/);
  });

  it('a negotiate check of an unknown service is down with that reason, not a pgsql or connect check', async () => {
    const t = { service: 'gopher', host: '127.0.0.1', port: 1, timeoutMs: 1000 } as unknown as CheckTarget;
    const r = await negotiateCheck(t);
    expect(r.up).toBe(false);
    expect(r.message).toMatch(/^no negotiate check for service "gopher"/);
  });

  it('service none is up without a connection', async () => {
    const t = { service: 'none', host: '198.18.0.1', port: 1, timeoutMs: 1000 } as unknown as CheckTarget;
    expect(await negotiateCheck(t)).toEqual({ up: true, message: 'service none: not checked' });
  });
});
