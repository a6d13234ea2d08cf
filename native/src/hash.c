/* jhash (lookup3 as the Linux kernel has it) and the CLUSTERIP / xt_cluster / nft selectors. */
#include "hash.h"
#include <string.h>

#define JHASH_INITVAL 0xdeadbeefu
#define rol32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

#define mix(a, b, c)                    \
  do {                                  \
    a -= c; a ^= rol32(c, 4); c += b;   \
    b -= a; b ^= rol32(a, 6); a += c;   \
    c -= b; c ^= rol32(b, 8); b += a;   \
    a -= c; a ^= rol32(c, 16); c += b;  \
    b -= a; b ^= rol32(a, 19); a += c;  \
    c -= b; c ^= rol32(b, 4); b += a;   \
  } while (0)

#define final(a, b, c)                  \
  do {                                  \
    c ^= b; c -= rol32(b, 14);          \
    a ^= c; a -= rol32(c, 11);          \
    b ^= a; b -= rol32(a, 25);          \
    c ^= b; c -= rol32(b, 16);          \
    a ^= c; a -= rol32(c, 4);           \
    b ^= a; b -= rol32(a, 14);          \
    c ^= b; c -= rol32(b, 24);          \
  } while (0)

static uint32_t load_le32(const uint8_t *p, size_t avail) {
  uint32_t w = 0;
  for (size_t i = 0; i < 4 && i < avail; i++) w |= (uint32_t)p[i] << (8 * i);
  return w;
}

uint32_t aavip_jhash(const uint8_t *k, size_t length, uint32_t initval) {
  uint32_t a, b, c;
  a = b = c = JHASH_INITVAL + (uint32_t)length + initval;
  while (length > 12) {
    a += load_le32(k, 4);
    b += load_le32(k + 4, 4);
    c += load_le32(k + 8, 4);
    mix(a, b, c);
    length -= 12;
    k += 12;
  }
  if (length == 0) return c;
  a += load_le32(k, length);
  b += length > 4 ? load_le32(k + 4, length - 4) : 0;
  c += length > 8 ? load_le32(k + 8, length - 8) : 0;
  final(a, b, c);
  return c;
}

uint32_t aavip_jhash_3words(uint32_t a, uint32_t b, uint32_t c, uint32_t initval) {
  a += JHASH_INITVAL + 12 + initval;
  b += JHASH_INITVAL + 12 + initval;
  c += JHASH_INITVAL + 12 + initval;
  final(a, b, c);
  return c;
}

static uint32_t jhash_nwords(int n, uint32_t a, uint32_t b, uint32_t c, uint32_t initval) {
  /* jhash_1word/2words are 3words with zeros and a smaller length term. */
  uint32_t t = JHASH_INITVAL + (uint32_t)(4 * n) + initval;
  a += t;
  b = (n > 1 ? b : 0) + t;
  c = (n > 2 ? c : 0) + t;
  final(a, b, c);
  return c;
}

uint32_t aavip_reciprocal_scale(uint32_t val, uint32_t ep_ro) {
  return (uint32_t)(((uint64_t)val * ep_ro) >> 32);
}

static inline uint16_t bswap16(uint16_t x) { return (uint16_t)((x << 8) | (x >> 8)); }

void aavip_buckets_v4(int mechanism, int fields, uint32_t seed, uint32_t buckets, const uint32_t *saddr,
                      const uint16_t *sport, const uint16_t *dport, uint32_t *out, size_t n) {
  if (mechanism == AAVIP_XT_CLUSTER) fields = 1;
  for (size_t i = 0; i < n; i++) {
    /* CLUSTERIP hashes ntohl(saddr); nft and xt_cluster load the wire bytes as a LE word. */
    uint32_t a = mechanism == AAVIP_CLUSTERIP ? saddr[i] : __builtin_bswap32(saddr[i]);
    uint32_t h = jhash_nwords(fields, a, bswap16(sport[i]), bswap16(dport[i]), seed);
    out[i] = aavip_reciprocal_scale(h, buckets) + 1;
  }
}
