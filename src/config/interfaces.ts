// Whether a network interface exists on this node, for refusing a mistyped `interface` at load.
import { existsSync, readFileSync } from 'node:fs';

/**
 * The interfaces of this process's network namespace. /proc/self/net/dev follows the namespace
 * of the process reading it (/sys/class/net follows the one sysfs was mounted in, which
 * `nsenter --net` does not change), lists interfaces without addresses too, and needs no root.
 */
export function interfacesHere(): Set<string> | undefined {
  try {
    const lines = readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2);
    return new Set(lines.map((l) => l.split(':')[0].trim()).filter((n) => n !== ''));
  } catch {
    return undefined;
  }
}

/** The loader's default check: /proc's list, read once per call of the returned function's maker. */
export function interfaceCheckHere(): (ifname: string) => boolean {
  let known: Set<string> | undefined | null = null;
  return (ifname) => {
    if (known === null) known = interfacesHere();
    return known ? known.has(ifname) : existsSync(`/sys/class/net/${ifname}`);
  };
}
