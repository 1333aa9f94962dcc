#!/usr/bin/env bash
# Start a local cluster in the background and wait for the full mesh.
#   scripts/start-cluster.sh [NODES] [DIR]      (defaults: 4, .ephemera/cluster)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$root/dist/bin/ephemera.js" ] || (cd "$root" && npm run build --silent)
nodes="${1:-4}"
dir="${2:-$root/.ephemera/cluster}"
exec node "$root/dist/bin/ephemera.js" cluster up --nodes "$nodes" --dir "$dir" --detach
