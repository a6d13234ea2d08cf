/* nft in-process: the bucket-lease renewal runs every heartbeat, and spawning nft for each costs
 * more than the transaction itself (bench/nft-renew.ts). */
#include "nftables.h"
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int aavip_nft_run(const char *script, char **out, char *err, size_t errlen) {
  int rc = -1;
  if (out) *out = NULL;
  pthread_mutex_lock(&lock);
  /* A context per call: its error buffer then holds this call's messages only. */
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) {
    snprintf(err, errlen, "libnftables: cannot create a context");
  } else {
    if (out) nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    rc = nft_run_cmd_from_buffer(ctx, script) == 0 ? 0 : -1;
    if (rc != 0) {
      const char *msg = nft_ctx_get_error_buffer(ctx);
      snprintf(err, errlen, "%s", msg && *msg ? msg : "nft refused the transaction");
    } else if (out) {
      const char *text = nft_ctx_get_output_buffer(ctx);
      *out = strdup(text ? text : "");
      if (!*out) {
        snprintf(err, errlen, "libnftables: out of memory for the listing");
        rc = -1;
      }
    }
    nft_ctx_free(ctx);
  }
  pthread_mutex_unlock(&lock);
  return rc;
}
