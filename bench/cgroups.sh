#!/usr/bin/env bash
# bench/cgroups, side by side: the same driver on this host (hybrid: the v1 manager) and on a
# cgroup2-only kernel in the throw-away VM (test/vm). create + place + destroy for 100 cgroups,
# the cost of the first placement, and what the device allow-list adds to create. The VM is
# software-emulated: compare ratios, not times.
# Usage (root): bash bench/cgroups.sh [--host-only] [N]        or: npm run bench:cgroups
# --host-only leaves the VM out (bench/run.mjs --quick does).
set -euo pipefail
cd "$(dirname "$0")/.."
host_only=0
if [ "${1:-}" = --host-only ]; then host_only=1; shift; fi
npx tsc bench/cgroups.ts --outDir .scratch/bench --rootDir . --target ES2022 --module NodeNext --moduleResolution NodeNext \
  --strict --skipLibCheck --types node
host=$(node .scratch/bench/bench/cgroups.js "$@" | tail -n 1)
vm=
if [ "$host_only" = 0 ]; then vm=$(test/vm/run-in-vm.sh --quiet -- node .scratch/bench/bench/cgroups.js "$@" | tail -n 1); fi
node --input-type=module -e '
const rows = process.argv.slice(1).filter(Boolean).map((l) => JSON.parse(l));
const f = (k) => rows.map((r) => String(r[k]).padStart(22)).join("");
console.log(`cgroups bench, N=${rows[0].n}, medians in ms${" ".repeat(4)}${rows.map((r) => `${r.layout} (${r.kernel.split("-")[0]})`.padStart(22)).join("")}`);
for (const [label, k] of [["create (default device allow-list)", "createMs"], ["create (devices allow-all)", "createAllowAllMs"], ["  cost of the device allow-list", "devicesAddedToCreateMs"], ["setDevices (live, one rule more/less)", "setDevicesMs"], ["place (pid write)", "placeMs"], ["destroy", "destroyMs"], ["first placement", "firstPlacementMs"], ["100 x create+place+destroy", "totalCreatePlaceDestroyMs"], ["cgroup.procs files per cgroup", "procsFilesPerCgroup"]]) console.log(`  ${label.padEnd(38)}${f(k)}`);
console.log(`  devices via${" ".repeat(27)}${rows.map((r) => r.devicesVia.padStart(30)).join("")}`);
if (rows.length > 1) console.log("  (the VM runs under software emulation: its times are inflated; read the ratios)");
const { emitResult } = await import("./bench/lib/result.mjs");
const metrics = { createMs: "create", createAllowAllMs: "create, devices allow-all", setDevicesMs: "setDevices", placeMs: "place", destroyMs: "destroy", firstPlacementMs: "first placement" };
emitResult({ bench: "cgroups", unit: "ms", params: { n: rows[0].n },
  rows: rows.flatMap((r) => Object.entries(metrics).map(([k, m]) => ({ tool: `${r.layout} (${r.kernel.split("-")[0]})`, metric: m, median: Number(r[k]), p90: Number(r[k]), n: r.n }))) });
' "$host" "$vm"
