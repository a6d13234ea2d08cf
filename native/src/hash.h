/* The kernel's bucket selectors in C: the speed reference and the independent cross-check of the
 * TypeScript models. Little-endian hosts, like the models. */
#ifndef AAVIP_HASH_H
#define AAVIP_HASH_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum aavip_mechanism { AAVIP_CLUSTERIP = 0, AAVIP_XT_CLUSTER = 1, AAVIP_NFT = 2 };

uint32_t aavip_jhash(const uint8_t *key, size_t length, uint32_t initval);
uint32_t aavip_jhash_3words(uint32_t a, uint32_t b, uint32_t c, uint32_t initval);
uint32_t aavip_reciprocal_scale(uint32_t val, uint32_t ep_ro);

/* 1-based buckets of n IPv4 TCP flows; saddr in host order (10.0.0.1 = 0x0a000001). */
void aavip_buckets_v4(int mechanism, int fields, uint32_t seed, uint32_t buckets, const uint32_t *saddr,
                      const uint16_t *sport, const uint16_t *dport, uint32_t *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
