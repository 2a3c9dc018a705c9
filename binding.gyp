{
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++17"],
    "cflags_cc": ["-std=c++20", "-Wall", "-Wextra", "-O2", "-fno-exceptions"],
    "cflags": ["-Wall", "-Wextra", "-O2"]
  },
  "targets": [
    {
      "target_name": "halfsec",
      "sources": [
        "native/napi/addon.cc",
        "native/napi/test_dtls.cc",
        "native/napi/test_rtp.cc",
        "native/napi/test_srtp.cc",
        "native/napi/test_stun.cc",
        "native/fanout/engine.cc",
        "native/fanout/worker.cc",
        "native/fanout/worker_routing.cc",
        "native/fanout/worker_tcp.cc",
        "native/fanout/peer.cc",
        "native/fanout/peer_publisher.cc",
        "native/fanout/stream.cc",
        "native/transport/udp_socket.cc",
        "native/transport/send_batch.cc",
        "native/transport/tcp_socket.cc",
        "native/media/packet.cc",
        "native/media/keyframe_cache.cc",
        "native/media/inbound_stream.cc",
        "native/media/nack_generator.cc",
        "native/media/retransmission_buffer.cc",
        "native/media/seq_rewriter.cc",
        "native/media/layer_switcher.cc",
        "native/media/rtcp_reporter.cc",
        "native/dtls/dtls.cc",
        "native/srtp/srtp.cc",
        "native/ice/stun.cc",
        "native/rtp/rtp.cc",
        "native/rtp/keyframe.cc",
        "native/rtp/rtcp.cc",
        "native/rtp/rtx.cc"
      ]
    },
    {
      "target_name": "halfsec_load",
      "sources": [
        "native/load/load_napi.cc",
        "native/load/bench_client.cc",
        "native/load/bench_raw.cc",
        "native/dtls/dtls.cc",
        "native/srtp/srtp.cc",
        "native/ice/stun.cc",
        "native/rtp/rtp.cc"
      ]
    },
    {
      "target_name": "halfsec_native_tests",
      "type": "executable",
      "sources": [
        "native/tests/main.cc",
        "native/tests/nack_generator_test.cc",
        "native/tests/retransmission_buffer_test.cc",
        "native/tests/pacing_test.cc",
        "native/tests/seq_rewriter_test.cc",
        "native/tests/layer_switcher_test.cc",
        "native/tests/rtcp_reporter_test.cc",
        "native/tests/address_binding_test.cc",
        "native/tests/source_restart_test.cc",
        "native/tests/tcp_framing_test.cc",
        "native/transport/tcp_socket.cc",
        "native/transport/udp_socket.cc",
        "native/media/packet.cc",
        "native/media/keyframe_cache.cc",
        "native/media/inbound_stream.cc",
        "native/media/nack_generator.cc",
        "native/media/retransmission_buffer.cc",
        "native/media/seq_rewriter.cc",
        "native/media/layer_switcher.cc",
        "native/media/rtcp_reporter.cc",
        "native/rtp/rtp.cc",
        "native/rtp/rtcp.cc",
        "native/rtp/rtx.cc"
      ]
    }
  ]
}
