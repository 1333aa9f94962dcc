#!/usr/bin/env bash
# Stop every process of a local cluster.
#   scripts/stop-cluster.sh [DIR]               (default: .ephemera/cluster)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$root/dist/bin/ephemera.js" ] || (cd "$root" && npm run build --silent)
exec node "$root/dist/bin/ephemera.js" cluster down --dir "${1:-$root/.ephemera/cluster}"
