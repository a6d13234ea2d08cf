// `notify:` in cluster.yaml, keepalived's notify scripts for an active/active cluster: commands
// run when the view changes, quorum is lost or regained, this node's buckets change, a tracked
// service changes state, or a real server goes down or comes back. The facts are in the
// environment (events.ts); each command runs without a shell, for at most its timeout.
import { parseCommandLine } from '../config/command-line.js';
import type { FieldChecker, FieldPath } from '../config/yaml.js';

export const NOTIFY_EVENTS = ['view', 'quorum', 'ownership', 'track', 'real'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface NotifySpec {
  argv: string[];
  on: NotifyEvent[];
  timeoutMs: number;
}

export const NOTIFY_TIMEOUT_MS = 5000;
const FIELDS = ['command', 'on', 'timeout'];

/** A `notify:` list at `path`; every mistake is reported with its field, nothing is half-taken. */
export function parseNotifyList(list: unknown, path: FieldPath, c: FieldChecker): NotifySpec[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    c.fail(path, 'notify must be a list of { command, on, timeout }');
    return [];
  }
  const out: NotifySpec[] = [];
  list.forEach((item: unknown, i) => {
    const at = [...path, i];
    if (!item || typeof item !== 'object' || Array.isArray(item)) return c.fail(at, 'a notify hook is a mapping: { command, on, timeout }');
    const h = item as Record<string, unknown>;
    for (const key of Object.keys(h)) if (!FIELDS.includes(key)) c.fail([...at, key], `unknown field '${key}' (known: ${FIELDS.join(', ')})`);
    const cmd = parseCommandLine(h.command);
    if ('error' in cmd) c.fail([...at, 'command'], `command ${cmd.error}`);
    const on = h.on === undefined ? [...NOTIFY_EVENTS] : Array.isArray(h.on) ? h.on : [h.on];
    const bad = on.filter((e) => !NOTIFY_EVENTS.includes(e as NotifyEvent));
    if (bad.length || !on.length) c.fail([...at, 'on'], `on must list events among ${NOTIFY_EVENTS.join(', ')}${bad.length ? ` (not ${bad.join(', ')})` : ''}`);
    const timeoutMs = c.duration([...at, 'timeout'], h.timeout ?? NOTIFY_TIMEOUT_MS, 1, 'a duration (e.g. 5s)');
    if ('argv' in cmd && !bad.length && on.length && timeoutMs) out.push({ argv: cmd.argv, on: on as NotifyEvent[], timeoutMs });
  });
  return out;
}
