// Damaged captures: whatever bytes are flipped or cut, reading a capture either gives flows or
// throws an InputError (one line naming the file), never an engine error (a RangeError from a
// read past the end would be reported as a bug, with a stack).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { LINKTYPES } from '../../src/flows/packet.js';
import { readFlows } from '../../src/flows/read.js';
import { ethernetFrame, type FrameSpec, pcap, pcapng, sll2Frame } from './capture-fixtures.js';

const specs: FrameSpec[] = [
  { src: '198.18.1.7', dst: '198.18.0.100', sport: 40001, dport: 80, vlans: 1 },
  { src: '2001:db8::7', dst: '2001:db8::100', sport: 40002, dport: 443, hopByHop: true },
  { src: '198.18.1.8', dst: '198.18.0.100', sport: 5353, dport: 53, proto: 'udp' },
];
const captures = [
  pcap(
    LINKTYPES.ethernet,
    specs.map((s) => ({ data: ethernetFrame(s) })),
  ),
  pcap(
    LINKTYPES.linuxSll2,
    specs.map((s) => ({ data: sll2Frame(s) })),
    { little: false },
  ),
  pcapng([{ type: 'idb', linktype: LINKTYPES.ethernet }, ...specs.map((s) => ({ type: 'epb', data: ethernetFrame(s) }) as const)]),
  pcapng([{ type: 'idb', linktype: LINKTYPES.linuxSll2 }, ...specs.map((s) => ({ type: 'spb', data: sll2Frame(s) }) as const)], false),
];

function outcome(b: Uint8Array, format: 'pcap' | 'pcapng'): string {
  try {
    return `${readFlows(b, 'f', format).flows.length} flows`;
  } catch (e) {
    if (e instanceof InputError) return 'input error';
    throw e;
  }
}

describe('damaged captures', () => {
  it('flipped bytes and cuts give flows or an InputError, nothing else', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: captures.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.option(fc.nat()),
        (which, flips, cutAt) => {
          const b = captures[which].slice();
          for (const [at, value] of flips) b[at % b.length] = value;
          const damaged = cutAt === null ? b : b.subarray(0, cutAt % (b.length + 1));
          expect(outcome(damaged, which < 2 ? 'pcap' : 'pcapng')).toMatch(/^(\d+ flows|input error)$/);
        },
      ),
      { numRuns: 3000, seed: 16 },
    );
  });
});
