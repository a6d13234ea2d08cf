// The heartbeat on the wire: a small JSON body, authenticated with HMAC-SHA256 under the
// cluster's shared key. Layout: "AAV1" | u16 body length | body | 32-byte HMAC(magic+length+body).
// Anything that does not verify is dropped by the caller and counted; nothing of it is trusted.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TrackVerdict } from '../track/state.js';
import type { ClusterFacts } from './agreement.js';

const MAGIC = Buffer.from('AAV1');
const MAC_LENGTH = 32;
const HEADER = MAGIC.length + 2;

export interface Heartbeat {
  cluster: string;
  /** Sender's node id. */
  from: number;
  /** Sender's incarnation: chosen at daemon start, larger after every restart. */
  incarnation: number;
  /** Per-incarnation sequence number, strictly increasing. */
  seq: number;
  /** The nodes the sender believes live (its view), sorted. */
  live: number[];
  /** The sender's view epoch (informational: epochs are per node; views are compared by `view`). */
  epoch: number;
  /** The sender's view as a key (live nodes and weights, see viewKey): equal keys, equal owners. */
  view: string;
  /** Whether the sender has quorum in its view. */
  quorate: boolean;
  /** Weight settings made at run time (`aavip drain`/`undrain`), all the sender knows of. */
  weights: WeightSetting[];
  /**
   * The peers the sender hears directly, and how long ago (ms) it last did: a receiver that
   * misses a peer's own heartbeats still knows it lives, so one lossy path is no failover.
   */
  heard: Hearsay[];
  /** Per VIP (its address), the buckets the sender is handing over and still holding old flows in. */
  draining: Record<string, number[]>;
  /** Per VIP, a hex bitmap of the buckets the sender still has connections in: served, incoming or draining (see bucketBitmap). */
  holding: Record<string, string>;
  /**
   * Per VIP, a hex bitmap of the buckets whose new connections the sender's kernel takes, as read
   * from it (owned and incoming): what the split-brain alarm compares (duplicates.ts).
   */
  taking?: Record<string, string>;
  /**
   * Sent by a daemon that is stopping while its kernel rules keep serving (a restart): peers keep
   * it live for the restart grace instead of the deadtime.
   */
  paused?: boolean;
  /** Sent by a daemon that has removed its rules and is going away: peers take its buckets over at once. */
  leaving?: boolean;
  /** What decides owners at the sender (agreement.ts). */
  facts?: ClusterFacts;
  /** Shared checks: the verdicts on the real servers the sender checks (lvs/check-share.ts). */
  checks?: CheckVerdicts;
  /** The sender's tracked local services (track/state.ts): what they take off its weight. */
  track?: TrackVerdict;
}

/** What a heartbeat says of the real servers its sender checks: bitmaps over the sorted real ids. */
export interface CheckVerdicts {
  /** The digest of the sorted real ids: verdicts are read only against the same list. */
  of: string;
  /** The reals the sender checks and has checked since they became its own. */
  checked: string;
  /** Those of them that are up. */
  up: string;
}

/**
 * A node's weight as set at run time, replicated through heartbeats: the setting with the
 * highest (stamp, by) wins everywhere. `weight: null` returns the node to its configured weight.
 */
export interface WeightSetting {
  node: number;
  weight: number | null;
  /** Milliseconds, kept above every stamp seen so far (so a later setting wins despite clock skew). */
  stamp: number;
  /** The node where it was set (breaks ties). */
  by: number;
}

export interface Hearsay {
  node: number;
  ageMs: number;
  /** The peer's last heartbeat announced a pause (a restart). */
  paused: boolean;
  /** The incarnation heard: the peer it names learns that this heartbeat is younger than its own start. */
  inc?: number;
  /** The latest sequence number heard from it: the peer learns which of its heartbeats got through (lease.ts). */
  seq?: number;
}

/** Buckets (1-based) as a hex bitmap: bit b-1 of the little-endian byte string. Compact for 1024 buckets. */
export function bucketBitmap(buckets: readonly number[], total: number): string {
  const bytes = Buffer.alloc(Math.ceil(total / 8));
  for (const b of buckets) bytes[(b - 1) >> 3] |= 1 << ((b - 1) & 7);
  return bytes.toString('hex');
}

export function bucketsOfBitmap(hex: string): Set<number> {
  const out = new Set<number>();
  Buffer.from(hex, 'hex').forEach((byte, i) => {
    for (let k = 0; k < 8; k++) if (byte & (1 << k)) out.add(i * 8 + k + 1);
  });
  return out;
}

export type DecodeResult = { ok: true; heartbeat: Heartbeat } | { ok: false; reason: 'truncated' | 'bad-magic' | 'bad-mac' | 'malformed' | 'wrong-cluster' };

function mac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** The largest body a heartbeat may have: one UDP datagram (the configuration is checked against it). */
export const MAX_BODY = 0xffff - HEADER - MAC_LENGTH - 28;

/** The body as sent: bucket lists travel as bitmaps, so 1,024 draining buckets cost 256 bytes, not 5,000. */
const wireBody = (hb: Heartbeat): Buffer =>
  Buffer.from(
    JSON.stringify({
      ...hb,
      draining: Object.fromEntries(Object.entries(hb.draining).map(([k, v]) => [k, bucketBitmap(v, v.length ? Math.max(...v) : 0)])),
    }),
  );

/** A heartbeat's body size as it would be sent. */
export const bodyBytes = (hb: Heartbeat): number => wireBody(hb).length;

export function encodeHeartbeat(hb: Heartbeat, key: Buffer): Buffer {
  const body = wireBody(hb);
  if (body.length > MAX_BODY) throw new Error(`heartbeat too large (${body.length} bytes)`);
  const head = Buffer.alloc(HEADER);
  MAGIC.copy(head);
  head.writeUInt16BE(body.length, MAGIC.length);
  const signed = Buffer.concat([head, body]);
  return Buffer.concat([signed, mac(key, signed)]);
}

const isIntArray = (x: unknown): x is number[] => Array.isArray(x) && x.every((n) => Number.isSafeInteger(n));
const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const isWeightSetting = (x: unknown): x is WeightSetting =>
  isObject(x) &&
  Number.isSafeInteger(x.node) &&
  (x.weight === null || (typeof x.weight === 'number' && Number.isFinite(x.weight) && x.weight >= 0)) &&
  Number.isSafeInteger(x.stamp) &&
  Number.isSafeInteger(x.by);
const isHearsay = (x: unknown): x is Hearsay =>
  isObject(x) &&
  Number.isSafeInteger(x.node) &&
  Number.isSafeInteger(x.ageMs) &&
  (x.ageMs as number) >= 0 &&
  typeof x.paused === 'boolean' &&
  (x.inc === undefined || Number.isSafeInteger(x.inc)) &&
  (x.seq === undefined || Number.isSafeInteger(x.seq));
const isBitmap = (x: unknown): x is string => typeof x === 'string' && /^([0-9a-f]{2})*$/.test(x);
const isFacts = (x: unknown): x is ClusterFacts =>
  isObject(x) &&
  Array.isArray(x.weights) &&
  x.weights.every((w) => Array.isArray(w) && w.length === 2 && Number.isSafeInteger(w[0]) && typeof w[1] === 'number' && Number.isFinite(w[1]) && w[1] >= 0) &&
  isObject(x.vips) &&
  Object.values(x.vips).every((d) => typeof d === 'string');

const isTrackVerdict = (x: unknown): x is TrackVerdict =>
  isObject(x) &&
  typeof x.out === 'boolean' &&
  typeof x.drop === 'number' &&
  Number.isFinite(x.drop) &&
  x.drop >= 0 &&
  Array.isArray(x.down) &&
  x.down.every((d) => typeof d === 'string');

export function decodeHeartbeat(packet: Buffer, key: Buffer, cluster: string): DecodeResult {
  if (packet.length < HEADER + MAC_LENGTH) return { ok: false, reason: 'truncated' };
  if (!packet.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, reason: 'bad-magic' };
  const length = packet.readUInt16BE(MAGIC.length);
  if (packet.length !== HEADER + length + MAC_LENGTH) return { ok: false, reason: 'truncated' };
  const signed = packet.subarray(0, HEADER + length);
  if (!timingSafeEqual(mac(key, signed), packet.subarray(HEADER + length))) return { ok: false, reason: 'bad-mac' };
  let hb: Heartbeat & { draining: Record<string, unknown> };
  try {
    hb = JSON.parse(signed.subarray(HEADER).toString('utf8')) as Heartbeat;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const valid =
    hb !== null &&
    typeof hb === 'object' &&
    typeof hb.cluster === 'string' &&
    Number.isSafeInteger(hb.from) &&
    Number.isSafeInteger(hb.incarnation) &&
    Number.isSafeInteger(hb.seq) &&
    isIntArray(hb.live) &&
    Number.isSafeInteger(hb.epoch) &&
    typeof hb.quorate === 'boolean' &&
    typeof hb.view === 'string' &&
    Array.isArray(hb.weights) &&
    hb.weights.every(isWeightSetting) &&
    Array.isArray(hb.heard) &&
    hb.heard.every(isHearsay) &&
    isObject(hb.draining) &&
    Object.values(hb.draining).every(isBitmap) &&
    (hb.facts === undefined || isFacts(hb.facts)) &&
    (hb.checks === undefined || (isObject(hb.checks) && typeof hb.checks.of === 'string' && isBitmap(hb.checks.checked) && isBitmap(hb.checks.up))) &&
    (hb.track === undefined || isTrackVerdict(hb.track)) &&
    (hb.paused === undefined || typeof hb.paused === 'boolean') &&
    (hb.leaving === undefined || typeof hb.leaving === 'boolean') &&
    isObject(hb.holding) &&
    Object.values(hb.holding).every(isBitmap) &&
    (hb.taking === undefined || (isObject(hb.taking) && Object.values(hb.taking).every(isBitmap)));
  if (!valid) return { ok: false, reason: 'malformed' };
  if (hb.cluster !== cluster) return { ok: false, reason: 'wrong-cluster' };
  const draining = Object.fromEntries(
    Object.entries(hb.draining as Record<string, string>).map(([k, v]) => [k, [...bucketsOfBitmap(v)].sort((a, b) => a - b)]),
  );
  return { ok: true, heartbeat: { ...hb, draining } };
}
