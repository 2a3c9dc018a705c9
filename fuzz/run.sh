#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a bounded time, after
# replaying its seed corpus and every saved regression input. Then the SDP fuzzer (node).
# Usage: fuzz/run.sh [seconds-per-target, default 60] [target ...]
# Exit status: 0 when nothing was found, 1 on any finding, 2 when the toolchain is missing.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ="$PWD"
ROOT="$(cd .. && pwd)"

SECONDS_PER_TARGET="${1:-60}"
shift || true
ALL_TARGETS=(stun rtp rtcp srtp transport_cc dependency_descriptor sdp)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")

CXX="${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++ || true)}"
OUT="$FUZZ/out"
mkdir -p "$OUT/bin"

# Which native sources each target links (only the parser under test and what it needs).
declare -A SOURCES=(
  [stun]="native/ice/stun.cc"
  [rtp]="native/rtp/rtp.cc native/rtp/keyframe.cc"
  [rtcp]="native/rtp/rtp.cc native/rtp/rtcp.cc"
  [srtp]="native/srtp/srtp_context.cc native/srtp/srtp_cipher.cc native/srtp/srtp_kdf.cc"
  [transport_cc]="native/rtp/transport_cc_reader.cc native/media/delay_based_bwe.cc native/media/bandwidth_estimator.cc"
  [dependency_descriptor]="native/rtp/dependency_descriptor.cc native/media/svc_filter.cc native/rtp/vpx_descriptor.cc"
)
declare -A EXTRA=([srtp]="-max_len=8192")

need_toolchain() {
  if [ -z "$CXX" ]; then
    echo "fuzz: no clang++ found; on Debian 12: apt-get install -y clang-14 libclang-rt-14-dev libssl-dev" >&2
    exit 2
  fi
  if [ ! -f /usr/include/openssl/evp.h ]; then
    echo "fuzz: OpenSSL headers missing; apt-get install -y libssl-dev" >&2
    exit 2
  fi
}

build() {
  local t="$1" bin="$OUT/bin/$1" srcs=()
  for s in ${SOURCES[$t]}; do srcs+=("$ROOT/$s"); done
  # -O1 -g: fast enough to fuzz, precise enough stacks; -fno-sanitize-recover: UB is a finding.
  "$CXX" -std=c++20 -g -O1 -fno-exceptions -Wall -Wextra \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$ROOT/native" "$FUZZ/${t}_fuzz.cc" "${srcs[@]}" -lcrypto -o "$bin"
}

declare -A EXECS FINDINGS STATUS
status=0

run_native() {
  local t="$1" bin="$OUT/bin/$1" log="$OUT/$1.log" art="$OUT/findings/$1/"
  mkdir -p "$art" "$OUT/work/$t"
  rm -f "$art"/*
  # Replay: every seed and every regression input, once each, before any new input.
  local replay=()
  while IFS= read -r -d '' f; do replay+=("$f"); done < <(find "$FUZZ/corpus/$t" "$FUZZ/regressions/$t" -type f ! -name '.gitkeep' -print0 2>/dev/null)
  if [ ${#replay[@]} -gt 0 ] && ! "$bin" -runs=1 "${replay[@]}" >"$OUT/$t.replay.log" 2>&1; then
    echo "fuzz[$t]: replaying the corpus / regressions FAILED (see $OUT/$t.replay.log)" >&2
    tail -n 30 "$OUT/$t.replay.log" >&2
    FINDINGS[$t]="replay"
    EXECS[$t]=0
    STATUS[$t]=FAIL
    status=1
    return
  fi
  set +e
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art" ${EXTRA[$t]:-} "$OUT/work/$t" "$FUZZ/corpus/$t" >"$log" 2>&1
  local rc=$?
  set -e
  EXECS[$t]="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo '?')"
  local found
  found="$(find "$art" -type f | wc -l)"
  FINDINGS[$t]="$found"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    STATUS[$t]=FAIL
    status=1
    echo "fuzz[$t]: FINDING (exit $rc); inputs in $art, log $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" | head -n 10 >&2 || true
  else
    STATUS[$t]=ok
  fi
}

run_sdp() {
  local log="$OUT/sdp.log" art="$OUT/findings/sdp/"
  mkdir -p "$art"
  rm -f "$art"/*
  if [ ! -f "$ROOT/dist/media/sdp.js" ]; then
    echo "fuzz[sdp]: dist/media/sdp.js missing; run npm install (or npm run build:ts) first" >&2
    FINDINGS[sdp]="?"; EXECS[sdp]=0; STATUS[sdp]=FAIL; status=1
    return
  fi
  set +e
  node "$FUZZ/sdp_fuzz.mjs" --seconds "$SECONDS_PER_TARGET" --findings "$art" 2>&1 | tee "$log" | grep -v '^#' >&2
  local rc=${PIPESTATUS[0]}
  set -e
  EXECS[sdp]="$(grep -o '"executions":[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo '?')"
  FINDINGS[sdp]="$(find "$art" -type f | wc -l)"
  if [ "$rc" -ne 0 ]; then STATUS[sdp]=FAIL; status=1; else STATUS[sdp]=ok; fi
}

for t in "${TARGETS[@]}"; do
  if [ "$t" = sdp ]; then
    echo "fuzz[sdp]: ${SECONDS_PER_TARGET}s" >&2
    run_sdp
    continue
  fi
  need_toolchain
  echo "fuzz[$t]: building" >&2
  build "$t"
  echo "fuzz[$t]: replaying corpus + regressions, then fuzzing ${SECONDS_PER_TARGET}s" >&2
  run_native "$t"
done

printf '\n%-6s %14s %9s %s\n' target executions findings status
for t in "${TARGETS[@]}"; do
  printf '%-6s %14s %9s %s\n' "$t" "${EXECS[$t]}" "${FINDINGS[$t]}" "${STATUS[$t]}"
done
exit $status
