#!/usr/bin/env bash
# Builds build/Release/halfsec-srt, the relay's SRT listener (native/srt/), when libsrt's
# headers are installed (Debian: libsrt-openssl-dev). A separate executable rather than part of
# the addon: `npm install` must build the addon on a machine without libsrt, and the relay then
# starts without SRT ingest (it logs why). Run by `npm install` (after node-gyp), by
# scripts/test-deps.sh after it installed libsrt-openssl-dev, and by `npm run build:srt`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/Release/halfsec-srt
if ! pkg-config --exists srt 2>/dev/null; then
  echo "halfsec: libsrt headers not found (Debian: apt-get install libsrt-openssl-dev); SRT ingest is not built" >&2
  exit 0
fi
srcs=(native/srt/srt_ingest.cc native/srt/caller_admission.cc native/srt/streamid.cc)
hdrs=(native/srt/caller_admission.h native/srt/line_budget.h native/srt/streamid.h)
if [ -x "$out" ] && [ -z "$(find "${srcs[@]}" "${hdrs[@]}" scripts/build-srt.sh -newer "$out" 2>/dev/null)" ]; then
  exit 0
fi
mkdir -p build/Release
# shellcheck disable=SC2046
${CXX:-g++} -std=c++20 -O2 -Wall -Wextra -pthread -Inative $(pkg-config --cflags srt) "${srcs[@]}" $(pkg-config --libs srt) -o "$out.tmp"
mv "$out.tmp" "$out"
echo "halfsec: built $out" >&2
