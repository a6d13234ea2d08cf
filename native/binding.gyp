{
  "targets": [
    {
      "target_name": "aavip_native",
      "sources": ["src/addon.cc", "src/hash.c", "src/garp.c", "src/nftables.c"],
      "libraries": ["-lnftables"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-O2", "-Wall", "-D_FORTIFY_SOURCE=2"],
      "cflags_cc": ["-O2", "-Wall", "-D_FORTIFY_SOURCE=2"],
      "ldflags": ["-Wl,-z,relro", "-Wl,-z,now"]
    }
  ]
}
