#!/usr/bin/env bash
# Runs bench/overlay.ts: compiles it (with the sources it imports) into .scratch/, then runs it in
# a private mount namespace so no overlay it mounts can reach the host's mount table.
# Usage: bash bench/overlay.sh [--clones N] [--root DIR]     (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .scratch
out=$(mktemp -d .scratch/bench-overlay.XXXXXX)
trap 'rm -rf "$out"' EXIT
npx tsc bench/overlay.ts --outDir "$out" --rootDir . --target ES2022 --module NodeNext --moduleResolution NodeNext \
  --strict --skipLibCheck --esModuleInterop --types node
unshare -m --propagation private node "$out/bench/overlay.js" "$@"
