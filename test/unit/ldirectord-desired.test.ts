// The IPVS table an ldirectord.cf asks for, for a given set of healthy real servers: weights,
// quiescent, fallback, port mapping of direct routing, checktype=off.
import { describe, expect, it } from 'vitest';
import { desiredFor, desiredWhenHealthy } from '../../src/lvs/config/desired.js';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';

const parse = (text: string) => parseLdirectordConfig(text, 'test.cf');
const summary = (c: ReturnType<typeof parse>, up: (address: string) => boolean) =>
  desiredFor(c, (_v, r) => up(r.address)).map((s) => s.realServers.map((d) => `${d.address} ${d.forwarding} w${d.weight}${d.fallback ? ' fallback' : ''}`));

const WEB = `virtual=198.18.0.100:80
\treal=198.18.1.1:8080 masq 5
\treal=198.18.1.2:8080 masq 3
\treal=198.18.1.3 gate 2
\tfallback=127.0.0.1:8081 masq
`;

describe('desiredFor', () => {
  it('removes down real servers without quiescent, and adds the fallback only when none is up', () => {
    const c = parse(WEB);
    expect(summary(c, () => true)).toEqual([['198.18.1.1:8080 masq w5', '198.18.1.2:8080 masq w3', '198.18.1.3:80 gate w2']]);
    expect(summary(c, (a) => a === '198.18.1.2')).toEqual([['198.18.1.2:8080 masq w3']]);
    expect(summary(c, () => false)).toEqual([['127.0.0.1:8081 masq w1 fallback']]);
  });

  it('keeps down real servers at weight 0 with quiescent (global or per virtual)', () => {
    const c = parse(`quiescent=yes\n${WEB}`);
    expect(summary(c, (a) => a === '198.18.1.1')).toEqual([['198.18.1.1:8080 masq w5', '198.18.1.2:8080 masq w0', '198.18.1.3:80 gate w0']]);
    expect(summary(c, () => false)).toEqual([
      ['198.18.1.1:8080 masq w0', '198.18.1.2:8080 masq w0', '198.18.1.3:80 gate w0', '127.0.0.1:8081 masq w1 fallback'],
    ]);
    expect(summary(parse(`quiescent=yes\n${WEB}\tquiescent=no\n`), () => false)).toEqual([['127.0.0.1:8081 masq w1 fallback']]);
  });

  it('counts an up real server with weight 0 as up: no fallback', () => {
    const c = parse('virtual=198.18.0.100:80\n\treal=198.18.1.1:80 masq 0\n\tfallback=127.0.0.1:80 masq\n');
    expect(summary(c, () => true)).toEqual([['198.18.1.1:80 masq w0']]);
  });

  it('lets a fallback that is also a quiesced real server take its entry', () => {
    const c = parse('quiescent=yes\nvirtual=198.18.0.100:80\n\treal=127.0.0.1:80 masq 4\n\treal=198.18.1.1:80 masq\n\tfallback=127.0.0.1:80 masq\n');
    expect(summary(c, () => false)).toEqual([['198.18.1.1:80 masq w0', '127.0.0.1:80 masq w1 fallback']]);
  });

  it('gives checktype=off services no real servers up and no fallback; on is always up', () => {
    expect(summary(parse(`${WEB}\tchecktype=off\n`), () => true)).toEqual([[]]);
    expect(summary(parse(`quiescent=yes\n${WEB}\tchecktype=off\n`), () => true)).toEqual([
      ['198.18.1.1:8080 masq w0', '198.18.1.2:8080 masq w0', '198.18.1.3:80 gate w0'],
    ]);
    expect(desiredWhenHealthy(parse(`${WEB}\tchecktype=on\n`))[0].realServers).toHaveLength(3);
  });

  it('maps gate and ipip real servers of address services to the service port, never for fwmark services', () => {
    const c = parse(
      'virtual=198.18.0.100:443\n\treal=198.18.1.1:8443 ipip\n\treal=198.18.1.2:8443 gate\n\treal=198.18.1.3:8443 masq\nvirtual=9\n\treal=198.18.1.1:8443 gate\n',
    );
    expect(summary(c, () => true)).toEqual([['198.18.1.1:443 ipip w1', '198.18.1.2:443 gate w1', '198.18.1.3:8443 masq w1'], ['198.18.1.1:8443 gate w1']]);
  });

  it('writes persistence, netmask (only with persistence), schedflags and ops (udp only) for the service', () => {
    const [a, b, c] = desiredWhenHealthy(
      parse(
        'virtual=198.18.0.100:53\n\tpersistent=60\n\tnetmask=255.255.0.0\n\tschedflags=sh-port\n\tops=yes\nvirtual=198.18.0.100:80\n\tnetmask=255.255.0.0\n\tops=yes\nvirtual6=[2001:db8::1]:80\n\tpersistent=10\n\tnetmask=64\n',
      ),
    );
    expect(a).toMatchObject({ protocol: 'udp', persistent: 60, netmask: '255.255.0.0', schedflags: 'sh-port', ops: true });
    expect(b).toMatchObject({ protocol: 'tcp', persistent: null, netmask: null, schedflags: null, ops: false });
    expect(c).toMatchObject({ family: 6, address: '[2001:db8::1]:80', persistent: 10, netmask: '64' });
  });
});
