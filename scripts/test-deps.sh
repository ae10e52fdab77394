#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian/Ubuntu host, and nothing when it is there.
# Run by `npm test` (pretest) and by .ci/run. Without root it only reports what is missing: the
# tests that need those packages need root anyway.
set -euo pipefail

# busybox-static: the test rootfs; iproute2: checking `lo` inside network namespaces;
# procps: ps inside containers built from the host; util-linux: unshare/nsenter in tests;
# gcc, libc6-dev, make, musl-tools: the shim (musl keeps its resident size under 300 KB);
# xfsprogs, e2fsprogs: mkfs.xfs and mkfs.ext4 for the loop-mounted state roots of the
# writable-layer size tests (test/drivers/overlay/quota-*.test.ts; losetup is in util-linux);
# nftables, curl: bridge networking and its end-to-end tests (test/drivers/network/);
# python3-minimal: a Python service under `init: true` (test/cli/init.test.ts);
# git: manifest directories that are git checkouts (test/agent/, test/watch/, test/unit/git-checkout.test.ts);
# zstd: zstd-compressed layers on Node.js before 22.15 (src/drivers/overlay/images/blob.ts);
# docker-registry, skopeo, openssl: the registry the pull tests start and push to
# (test/support/real-registry.ts; never its system service, disabled below);
# podman, runc: `podman kube play` of what `corral export kube` writes (test/cli/export-kube.test.ts);
# podman pulls crun only, which refuses this host's hybrid cgroup layout.
PACKAGES=(busybox-static iproute2 procps util-linux gcc libc6-dev make musl-tools xfsprogs e2fsprogs nftables curl zstd docker-registry skopeo openssl python3-minimal git podman runc)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing Debian packages (install as root): ${missing[*]}" >&2
  exit 0
fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }
# The package starts and enables a registry on :5000; the tests start their own on a free port.
if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
fi
