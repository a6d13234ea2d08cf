// The Linux kernel's jhash family (Bob Jenkins' lookup3 as include/linux/jhash.h has it) and
// reciprocal_scale. Every step wraps at 32 bits; `>>> 0` keeps values unsigned.
// Little-endian hosts only: the kernel's word loads are native-endian, and every
// mechanism model in this folder assumes x86-64/arm64 LE byte order.

export const JHASH_INITVAL = 0xdeadbeef;

const rol = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The final avalanche of three words; the hash is the returned c. */
function final(a: number, b: number, c: number): number {
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 24)) >>> 0;
  return c;
}

/** The mix run between full 12-byte blocks; returns the three words. */
function mix(a: number, b: number, c: number): [number, number, number] {
  a = (a - c) >>> 0;
  a = (a ^ rol(c, 4)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rol(a, 6)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rol(b, 8)) >>> 0;
  b = (b + a) >>> 0;
  a = (a - c) >>> 0;
  a = (a ^ rol(c, 16)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rol(a, 19)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rol(b, 4)) >>> 0;
  b = (b + a) >>> 0;
  return [a, b, c];
}

/** Little-endian 32-bit word at k[i..i+3], zero beyond `end`. */
function le32(k: Uint8Array, i: number, end: number): number {
  let w = 0;
  for (let j = 3; j >= 0; j--) w = (w << 8) | (i + j < end ? k[i + j] : 0);
  return w >>> 0;
}

/** jhash(key, length, initval): hashes a byte string. */
export function jhash(key: Uint8Array, initval: number): number {
  const n = key.length;
  let a = (JHASH_INITVAL + n + initval) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  // A remainder of exactly 12 bytes is not mixed: it goes to the tail.
  while (n - i > 12) {
    a = (a + le32(key, i, n)) >>> 0;
    b = (b + le32(key, i + 4, n)) >>> 0;
    c = (c + le32(key, i + 8, n)) >>> 0;
    [a, b, c] = mix(a, b, c);
    i += 12;
  }
  if (n - i === 0) return c;
  a = (a + le32(key, i, n)) >>> 0;
  b = (b + le32(key, i + 4, n)) >>> 0;
  c = (c + le32(key, i + 8, n)) >>> 0;
  return final(a, b, c);
}

/** jhash2(words, count, initval): hashes an array of u32. */
export function jhash2(words: ArrayLike<number>, initval: number): number {
  const m = words.length;
  let a = (JHASH_INITVAL + 4 * m + initval) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  while (m - i > 3) {
    a = (a + words[i]) >>> 0;
    b = (b + words[i + 1]) >>> 0;
    c = (c + words[i + 2]) >>> 0;
    [a, b, c] = mix(a, b, c);
    i += 3;
  }
  if (m - i === 0) return c;
  a = (a + words[i]) >>> 0;
  if (m - i > 1) b = (b + words[i + 1]) >>> 0;
  if (m - i > 2) c = (c + words[i + 2]) >>> 0;
  return final(a, b, c);
}

export function jhash3words(x: number, y: number, z: number, initval: number): number {
  const t = (initval + JHASH_INITVAL + 12) >>> 0;
  return final((x + t) >>> 0, (y + t) >>> 0, (z + t) >>> 0);
}

export function jhash2words(x: number, y: number, initval: number): number {
  const t = (initval + JHASH_INITVAL + 8) >>> 0;
  return final((x + t) >>> 0, (y + t) >>> 0, t);
}

export function jhash1word(x: number, initval: number): number {
  const t = (initval + JHASH_INITVAL + 4) >>> 0;
  return final((x + t) >>> 0, t, t);
}

/**
 * reciprocal_scale(v, n): the high 32 bits of v*n, i.e. a value in [0, n).
 * It is not v % n. Below 2^21 the double product is exact; above, split v in halves.
 */
export function reciprocalScale(v: number, n: number): number {
  if (n < 0x200000) return Math.floor((v * n) / 0x100000000);
  const hi = (v >>> 16) * n;
  const lo = (v & 0xffff) * n;
  return Math.floor((hi + Math.floor(lo / 0x10000)) / 0x10000);
}

/** The 16-bit byte swap: a network-order port read as a native LE u16 (CLUSTERIP, nft). */
export const bswap16 = (p: number): number => ((p & 0xff) << 8) | ((p >>> 8) & 0xff);
