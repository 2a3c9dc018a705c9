{
  "targets": [
    {
      "target_name": "halfsec",
      "sources": [
        "native/addon.cc",
        "native/engine.cc",
        "native/worker.cc",
        "native/peer.cc",
        "native/stream.cc",
        "native/dtls.cc",
        "native/srtp.cc",
        "native/stun.cc",
        "native/rtp.cc",
        "native/keyframe.cc",
        "native/rtcp.cc",
        "native/test_srtp.cc",
        "native/test_stun.cc",
        "native/test_dtls.cc",
        "native/test_rtp.cc",
        "native/bench_client.cc",
        "native/bench_raw.cc",
        "native/bench_client_napi.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++17"],
      "cflags_cc": ["-std=c++20", "-Wall", "-Wextra", "-O2", "-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
