#!/usr/bin/env bash
# Builds the C shim (npm's `install` step). The shim is linked statically against musl when
# musl-gcc is there (about 140 KB resident per container monitor), else against glibc (about
# 700 KB). As root on Debian/Ubuntu, a missing musl-tools is installed first; otherwise the glibc
# build is used and the difference is only memory.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v musl-gcc >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "corral: installing musl-tools for a small shim" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null 2>&1 \
    || echo "corral: musl-tools not installed; building the shim with glibc" >&2
fi
exec make -s -C src/drivers/namespaces/shim
