import type { Command } from 'commander';

export function register(_program: Command): void {
  // subcommands of this area are added here
}
