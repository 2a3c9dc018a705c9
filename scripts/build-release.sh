#!/usr/bin/env bash
# Builds a runnable halfsec into OUT from the sources in SRC: the native addon (node-gyp, against
# the running Node's own headers), the TypeScript, and production dependencies only. The
# Dockerfile's build stage RUNs exactly this; test/deploy.test.mjs runs it on the CI machine in a
# temp dir, so the image's build steps are checked without a Docker daemon.
#
#   bash scripts/build-release.sh SRC OUT      (OUT must not exist yet)
#
# Needs: Node 20 with npm, python3, make, g++ (Debian 12: the node:20-bookworm image has them), and
# libsrt's headers for halfsec-srt (libsrt-openssl-dev; the Dockerfile installs them).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SRC OUT" >&2; exit 2; }
src=$(cd "$1" && pwd)
out=$2
[ -e "$out" ] && { echo "$0: $out exists; give a new directory" >&2; exit 2; }

# node-gyp downloads Node's headers unless told where they are: use the installed Node's own
# (/usr/local/include/node in the official images, /usr/include/node on Debian's nodejs).
node_prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -f "$node_prefix/include/node/node_api.h" ]; then export npm_config_nodedir="$node_prefix"; fi

cd "$src"
# Every dependency (the build needs TypeScript); no lifecycle scripts: the addon is built next,
# once, and no devDependency may fetch anything at install time.
npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=warn
npm run --silent install          # node-gyp rebuild: halfsec.node, halfsec_load.node, halfsec-splice; halfsec-srt if libsrt
rm -rf dist
npx tsc -p tsconfig.json

mkdir -p "$out/build/Release"
cp -a package.json package-lock.json dist web "$out/"
cp build/Release/halfsec.node build/Release/halfsec_load.node build/Release/halfsec-splice "$out/build/Release/"
# halfsec-srt (SRT publish) exists only where libsrt-openssl-dev was installed for the build. A
# release without it would start with SRT off: refuse, unless told (HALFSEC_RELEASE_NO_SRT=1).
if [ -x build/Release/halfsec-srt ]; then
  cp build/Release/halfsec-srt "$out/build/Release/"
elif [ "${HALFSEC_RELEASE_NO_SRT:-}" != 1 ]; then
  echo "$0: halfsec-srt was not built (Debian: apt-get install libsrt-openssl-dev); set HALFSEC_RELEASE_NO_SRT=1 to build without SRT ingest" >&2
  exit 1
fi
cd "$out"
# Runtime dependencies only; --ignore-scripts keeps npm from rebuilding the addon copied above.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=warn
# uWebSockets.js ships its server for every platform and Node ABI (~90 MB): keep this one's.
uws=node_modules/uWebSockets.js/binaries
keep="uws_$(node -p 'process.platform + "_" + process.arch + "_" + process.versions.modules').node"
if [ -f "$uws/$keep" ]; then find "$uws" -name 'uws_*.node' ! -name "$keep" -delete; fi
# A relay that cannot load its addon or its modules fails here, not at the first deploy.
node -e "import('./dist/index.js').then((m) => { if (typeof m.createRelay !== 'function') process.exit(1); })"
echo "halfsec built into $out"
