import type { Command } from 'commander';

export function register(_lab: Command): void {
  // subcommands of this area are added here
}
