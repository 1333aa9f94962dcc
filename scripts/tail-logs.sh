#!/usr/bin/env bash
# Follow the JSON logs of every node (or one: NAME) of a local cluster.
#   scripts/tail-logs.sh [NAME] [DIR]           (default DIR: .ephemera/cluster)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:-}"
dir="${2:-$root/.ephemera/cluster}"
if [ -n "$name" ]; then
  exec tail -n 50 -F "$dir/logs/$name.log"
fi
shopt -s nullglob
logs=("$dir"/logs/*.log)
if [ ${#logs[@]} -eq 0 ]; then
  echo "no logs in $dir/logs (is the cluster started?)" >&2
  exit 1
fi
exec tail -n 20 -F "${logs[@]}"
