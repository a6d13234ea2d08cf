#ifndef AAVIP_GARP_H
#define AAVIP_GARP_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/* Sends `count` gratuitous ARP request+reply pairs for ip (network order) claiming mac. 0 or -1 with err set. */
int aavip_send_garp(const char *ifname, const uint8_t ip[4], const uint8_t mac[6], int count, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif
