#!/bin/sh
# Re-records the traces in this folder (README.md): root, tc, Chromium (scripts/test-deps.sh),
# a built tree (npm run build:native && npx tsc). About 80 s; each phase is timed by the script.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
exec timeout -s KILL 170 unshare -n -- sh -c 'ip link set lo up && exec node "$0" "$1" "${2:-300}"' "$root/test/peers/twcc-trace-run.mjs" "$here" "$1"
