{
  "targets": [
    {
      "target_name": "aavip_native",
      "sources": ["src/addon.cc", "src/hash.c", "src/garp.c", "src/nftables.c"],
      "libraries": ["-lnftables"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-O2", "-Wall"],
      "cflags_cc": ["-O2", "-Wall"]
    }
  ]
}
