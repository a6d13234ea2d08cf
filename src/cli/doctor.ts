// `aavip doctor`: whether this node's kernel and settings can run the cluster configuration.
import type { Command } from 'commander';
import { loadClusterConfig } from '../config/cluster.js';
import { describeFindings, startupFindings } from '../doctor/doctor.js';
import { type ConfigOptions, withConfig } from './daemon.js';

export function register(program: Command): void {
  withConfig(
    program
      .command('doctor')
      .description('check that this kernel and its settings can run the configuration: modules, sysctls, interfaces (exit 1 on an error-level finding)'),
  )
    .option('--json', 'print the findings as JSON')
    .action(async (o: ConfigOptions & { json?: boolean }) => {
      // nft --check talks to the kernel, which answers only root: as non-root every probe would fail.
      if (process.getuid?.() !== 0) throw new Error('aavip doctor must run as root (nft --check and modprobe -n ask the kernel)');
      // A missing VIP interface is one of the findings, not a reason to stop reading.
      const config = loadClusterConfig(o.config, { local: o.node, interfaceExists: () => true });
      const findings = await startupFindings(config);
      process.stdout.write(o.json ? `${JSON.stringify({ file: o.config, findings })}\n` : describeFindings(findings, o.config));
      if (findings.some((f) => f.severity === 'error')) process.exitCode = 1;
    });
}
