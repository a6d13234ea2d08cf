/* Gratuitous ARP for a VIP, sent on an AF_PACKET socket so that neighbours learn the cluster's
 * multicast MAC at once. The ARP sender hardware address is the cluster MAC; the Ethernet source
 * stays the NIC's own unicast address (a multicast Ethernet source is invalid). */
#include "garp.h"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct arp_frame {
  uint8_t dst[6], src[6];
  uint16_t ethertype;
  uint16_t htype, ptype;
  uint8_t hlen, plen;
  uint16_t op;
  uint8_t sha[6];
  uint8_t spa[4];
  uint8_t tha[6];
  uint8_t tpa[4];
} __attribute__((packed));

int aavip_send_garp(const char *ifname, const uint8_t ip[4], const uint8_t mac[6], int count, char *err, size_t errlen) {
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ARP));
  if (fd < 0) { snprintf(err, errlen, "socket(AF_PACKET): %s", strerror(errno)); return -1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) { snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno)); close(fd); return -1; }
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno)); close(fd); return -1; }

  struct arp_frame f;
  memset(&f, 0, sizeof f);
  memset(f.dst, 0xff, 6);
  memcpy(f.src, ifr.ifr_hwaddr.sa_data, 6);
  f.ethertype = htons(ETH_P_ARP);
  f.htype = htons(ARPHRD_ETHER);
  f.ptype = htons(ETH_P_IP);
  f.hlen = 6;
  f.plen = 4;
  memcpy(f.sha, mac, 6);
  memcpy(f.spa, ip, 4);
  memcpy(f.tpa, ip, 4); /* gratuitous: target IP = sender IP */

  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  memset(to.sll_addr, 0xff, 6);
  for (int i = 0; i < count; i++) {
    /* A request and a reply each time: some hosts update their caches only on one of the two. */
    for (int op = ARPOP_REQUEST; op <= ARPOP_REPLY; op++) {
      f.op = htons(op);
      if (op == ARPOP_REPLY) memset(f.tha, 0xff, 6); else memset(f.tha, 0, 6);
      if (sendto(fd, &f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        snprintf(err, errlen, "sendto %s: %s", ifname, strerror(errno));
        close(fd);
        return -1;
      }
    }
  }
  close(fd);
  return 0;
}
