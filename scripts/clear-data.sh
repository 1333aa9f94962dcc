#!/usr/bin/env bash
# Delete a stopped cluster's data and logs (keys and configs stay); --all deletes everything.
#   scripts/clear-data.sh [DIR] [--all]         (default: .ephemera/cluster)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$root/dist/bin/ephemera.js" ] || (cd "$root" && npm run build --silent)
dir="$root/.ephemera/cluster"
extra=()
for arg in "$@"; do
  if [ "$arg" = "--all" ]; then extra+=(--all); else dir="$arg"; fi
done
exec node "$root/dist/bin/ephemera.js" cluster clear --dir "$dir" "${extra[@]}"
