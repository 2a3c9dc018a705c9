#!/usr/bin/env bash
# Installs the Debian packages the test suite drives (real browsers, GStreamer, aiortc, Redis, and clang
# for the fuzz pass) when they are missing. `npm test` runs it first (the "pretest" script) and
# so does .ci/run, so the README's test command works on a fresh Debian 12 machine by itself.
# As root it installs with apt-get; otherwise it prints the one command to run and goes on
# (tests whose client is missing then skip or fail naming it).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
need_apt=()
# ip and tc (test/publish-bitrate.test.mjs limits a publisher's uplink with tc htb).
{ command -v ip && [ -x /usr/sbin/tc ]; } >/dev/null 2>&1 || need_apt+=(iproute2)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
# The browser tests drive Debian's Chromium (playwright-core never downloads a browser here).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Real-client tests: Firefox ESR (puppeteer-core over WebDriver BiDi) and GStreamer webrtcbin
# driven from /usr/bin/python3 through GObject introspection (GstWebRTC typelib included).
[ -x /usr/bin/firefox-esr ] || need_apt+=(firefox-esr)
for p in gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
  gstreamer1.0-nice python3-gi python3-gst-1.0 gir1.2-gst-plugins-bad-1.0; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
# aiortc as a real WHIP publisher (test/aiortc.test.mjs), also run by /usr/bin/python3; it pulls
# in python3-av (FFmpeg's libx264) and python3-numpy, which the synthetic source uses.
for p in python3-aiortc python3-numpy; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
# Ingest tests (test/ingest-*.test.mjs): Debian's FFmpeg (libx264, libopus, rtmp, srt) as the
# relay's child; procps for pgrep (no child left behind).
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
# halfsec-srt (the relay's SRT listener, native/srt/) links libsrt; built below once it is here.
pkg-config --exists srt 2>/dev/null || need_apt+=(libsrt-openssl-dev pkg-config)
command -v pgrep >/dev/null 2>&1 || need_apt+=(procps)
# The RTSP pull test's camera: GStreamer's RTSP server through GObject introspection.
dpkg -s gir1.2-gst-rtsp-server-1.0 >/dev/null 2>&1 || need_apt+=(gir1.2-gst-rtsp-server-1.0)
# AAC from GStreamer (avenc_aac): the RTSP camera's audio and the README's GStreamer RTMP recipe.
dpkg -s gstreamer1.0-libav >/dev/null 2>&1 || need_apt+=(gstreamer1.0-libav)
# The fuzz pass: clang with libFuzzer + sanitizer runtimes, and OpenSSL to link the parsers with.
command -v clang++-14 >/dev/null 2>&1 || need_apt+=(clang-14)
ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need_apt+=(libclang-rt-14-dev)
[ -f /usr/include/openssl/evp.h ] || need_apt+=(libssl-dev)
# test/dtls-attack-child.mjs: the openssl tool makes RSA, EC, DSA and Ed25519 certificates for Node's TLS.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# nftables for the ICE-TCP and TURN tests (firewall rules inside network namespaces), and coturn,
# the TURN server the README's example config is tested with (test/coturn.test.mjs).
[ -x /usr/sbin/nft ] || need_apt+=(nftables)
[ -x /usr/bin/turnserver ] || need_apt+=(coturn)
# The cluster tests start their own throwaway redis-server.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# test/cluster-sentinel.test.mjs: a primary, a replica and three Redis Sentinels of its own.
command -v redis-sentinel >/dev/null 2>&1 || need_apt+=(redis-sentinel)
# `npm install` built the addon before these packages were here: build halfsec-srt now (a no-op
# when it is up to date or libsrt is still missing).
build_srt() { bash "$(dirname "$0")/build-srt.sh" || echo "halfsec tests: halfsec-srt did not build" >&2; }
[ ${#need_apt[@]} -eq 0 ] && { build_srt; exit 0; }
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "halfsec tests: missing Debian packages; run as root: apt-get install -y ${need_apt[*]}" >&2
  build_srt
  exit 0
fi
echo "halfsec tests: installing ${need_apt[*]}" >&2
apt-get update -qq
apt-get install -y -qq "${need_apt[@]}"

# Debian starts coturn as a service on install; the tests run their own in network namespaces,
# so the machine keeps no open TURN server.
if [[ " ${need_apt[*]} " == *" coturn "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now coturn >/dev/null 2>&1 || true
fi
build_srt
