// Which mechanism a VIP runs on: its backend, with `auto` resolved for this kernel. The one
// definition, for the dataplane, the spec's defaults and checks, and every hash model of its buckets.
import { spawnSync } from 'node:child_process';
import type { Backend, BackendChoice } from './types.js';

/** What `auto` depends on in the kernel. */
export interface KernelFacts {
  /** nf_tables with the jhash expression (any current kernel; Debian 12's 6.1 too). */
  nftJhash: boolean;
}

/** Pure: the mechanism `choice` stands for on a kernel with `kernel`'s facts. */
export function resolveMechanism(choice: BackendChoice, kernel: KernelFacts): Backend {
  if (choice !== 'auto') return choice;
  // CLUSTERIP is the fallback: what IPaddr2 used before nft could hash.
  return kernel.nftJhash ? 'nft' : 'clusterip';
}

const PROBE = `table ip aavip_probe {\n  chain c {\n    meta mark set jhash ip saddr mod 2 seed 0x1\n  }\n}\n`;
let probed: KernelFacts | undefined;

/**
 * This host's kernel, probed once per process: the kernel checks a throwaway jhash rule
 * (`nft --check`, nothing committed). Synchronous, so that parsing a spec can depend on it.
 */
export function hostKernel(): KernelFacts {
  if (!probed) {
    const r = spawnSync('nft', ['--check', '-f', '-'], { input: PROBE, stdio: ['pipe', 'ignore', 'ignore'], timeout: 10_000 });
    probed = { nftJhash: r.status === 0 };
  }
  return probed;
}

/** The mechanism of a spec: its backend, with `auto` resolved as createDataplane resolves it. */
export function mechanismOf(spec: { backend: BackendChoice }, kernel: KernelFacts = hostKernel()): Backend {
  return resolveMechanism(spec.backend, kernel);
}
