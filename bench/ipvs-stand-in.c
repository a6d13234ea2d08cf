/*
 * An IPVS stand-in for keepalived on a kernel without IPVS (bench/lvs-checks.ts), loaded with
 * LD_PRELOAD. keepalived's IPVS library falls back to the IPVS socket options when the IPVS
 * netlink family is missing; this answers those options as an empty IPVS would and appends each
 * change to the file named by AAVIP_IPVS_LOG, one line per call:
 *   <unix time, ms> <command> <real server ip:port or -> <weight or -1>
 * so the bench sees when keepalived takes a failed server out. Every other option goes to libc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *const set_names[] = {
	"none", "insert", "add", "edit", "del", "flush", "list", "adddest", "deldest", "editdest",
	"timeout", "startdaemon", "stopdaemon", "restore", "save", "zero",
};

static FILE *log_file(void)
{
	static FILE *out;
	if (!out) {
		const char *path = getenv("AAVIP_IPVS_LOG");
		out = path ? fopen(path, "a") : NULL;
		if (out)
			setvbuf(out, NULL, _IOLBF, 0); /* a line is visible as soon as it is written */
	}
	return out;
}

static void note(int name, const void *arg, socklen_t len)
{
	FILE *out = log_file();
	struct timespec now;
	char dest[INET_ADDRSTRLEN + 8] = "-";
	int weight = -1;

	if (!out)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	/* The destination commands pass a service followed by a destination. */
	if (arg && len >= sizeof(struct ip_vs_service_user) + sizeof(struct ip_vs_dest_user)) {
		struct ip_vs_dest_user d;
		char ip[INET_ADDRSTRLEN];
		memcpy(&d, (const char *)arg + sizeof(struct ip_vs_service_user), sizeof d);
		inet_ntop(AF_INET, &d.addr, ip, sizeof ip);
		snprintf(dest, sizeof dest, "%s:%u", ip, ntohs(d.port));
		weight = d.weight;
	}
	fprintf(out, "%lld.%03ld %s %s %d\n", (long long)now.tv_sec, now.tv_nsec / 1000000,
		set_names[name - IP_VS_BASE_CTL], dest, weight);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static int (*next)(int, int, int, void *, socklen_t *);

	if (level == IPPROTO_IP && name >= IP_VS_BASE_CTL && name <= IP_VS_SO_GET_MAX && val && len) {
		memset(val, 0, *len);
		if (name == IP_VS_SO_GET_VERSION) {
			snprintf(val, *len, "IP Virtual Server version 1.2.1 (size=4096)");
		} else if (name == IP_VS_SO_GET_INFO && *len >= sizeof(struct ip_vs_getinfo)) {
			struct ip_vs_getinfo *info = val;
			info->version = 0x010201;
			info->size = 4096;
		} else if (name == IP_VS_SO_GET_SERVICE || name == IP_VS_SO_GET_DEST) {
			errno = ESRCH;
			return -1;
		}
		/* Lists (services, destinations) come back empty; timeouts and daemons as zeros. */
		return 0;
	}
	if (!next)
		next = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
	return next(fd, level, name, val, len);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*next)(int, int, int, const void *, socklen_t);

	if (level == IPPROTO_IP && name >= IP_VS_BASE_CTL && name <= IP_VS_SO_SET_MAX) {
		note(name, val, len);
		return 0;
	}
	if (!next)
		next = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	return next(fd, level, name, val, len);
}
