// Option parsers shared by subcommands: each turns bad input into an InputError naming the option.
import { InvalidArgumentError } from 'commander';
import { isHashmode, type Hashmode } from '../hash/hashmode.js';
import { isMechanism, parseSeed, type Mechanism } from '../hash/mechanisms.js';

export function seedOption(text: string): number {
  const s = parseSeed(text);
  if (s === undefined) throw new InvalidArgumentError('a seed is a 32-bit number, decimal or 0x hex');
  return s;
}

/** A seed, or `auto` (derived from the VIP address, as a VIP's `seed: auto`). */
export function seedOrAutoOption(text: string): number | 'auto' {
  if (text.trim() === 'auto') return 'auto';
  const s = parseSeed(text);
  if (s === undefined) throw new InvalidArgumentError('a seed is a 32-bit number, decimal or 0x hex, or auto');
  return s;
}

export function positiveInt(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(text);
}

export function hashmodeOption(text: string): Hashmode {
  if (!isHashmode(text)) throw new InvalidArgumentError('one of sourceip, sourceip-sourceport, sourceip-sourceport-destport');
  return text;
}

export function mechanismOption(text: string): Mechanism {
  if (!isMechanism(text)) throw new InvalidArgumentError('one of clusterip, xt_cluster, nft');
  return text;
}

export function listOf<T>(parse: (s: string) => T): (text: string) => T[] {
  return (text) => text.split(',').map((s) => parse(s.trim()));
}
