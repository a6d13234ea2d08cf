#ifndef AAVIP_NFTABLES_H
#define AAVIP_NFTABLES_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
/*
 * Runs an nft script (what `nft -f -` reads) through libnftables in this process: one
 * transaction, as nft would send it. 0, or -1 with nft's error message in err. With `out`, the
 * output is JSON (`nft -j`) and *out a malloc'd copy of it, for the caller to free. Thread-safe
 * (calls are serialised: libnftables 1.0.6 keeps some state global).
 */
int aavip_nft_run(const char *script, char **out, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif
