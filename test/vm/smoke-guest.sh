#!/usr/bin/env bash
# The in-VM half of test/vm/smoke.sh: run through test/vm/run-in-vm.sh, from the project dir.
# Each check prints "ok - NAME" or "not ok - NAME"; the exit status is the number of failures
# (so 0 means all passed). Argument 1: a file name, relative to the project dir, to write through the
# overlay; smoke.sh then checks that the host never sees it.
# shellcheck disable=SC2317 # the checks are functions called through `check`
set -uo pipefail # no -e: a failing check is counted, the others still run

probe=${1:?probe file name}
passed=0
failed=0
check() { # name command...
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "not ok - $name"
    printf '%s\n' "$out" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

cgroup2_only() {
  [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || { echo "/sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)"; return 1; }
  # cgroup_no_v1=all: no v1 hierarchy can be mounted at all.
  ! grep -E '^cgroup ' /proc/mounts || { echo 'a v1 cgroup is mounted'; return 1; }
  mkdir -p /tmp/v1 && ! mount -t cgroup -o memory cgroup /tmp/v1 2>/dev/null || { echo 'v1 memory mount worked'; return 1; }
}
controllers() {
  local sc c
  sc=" $(cat /sys/fs/cgroup/cgroup.subtree_control) "
  echo "subtree_control:$sc"
  for c in cpu cpuset io memory pids hugetlb misc rdma; do
    [[ "$sc" == *" $c "* ]] || { echo "missing controller $c"; return 1; }
  done
}
child_cgroup_enforces() {
  # A child cgroup with a memory and pids limit; a process moved into it sees them.
  local cg=/sys/fs/cgroup/corral-vm-smoke
  mkdir "$cg" || return 1
  echo 64M >"$cg/memory.max" && echo 5 >"$cg/pids.max" || return 1
  # The subshell joins the cgroup and reports what it sees, then the cgroup is removed.
  local got
  got=$(sh -c "echo \$\$ >$cg/cgroup.procs && cat /proc/self/cgroup && cat $cg/memory.max $cg/pids.max")
  echo "$got"
  rmdir "$cg"
  [[ "$got" == *"0::/corral-vm-smoke"* && "$got" == *67108864* && "$got" == *5 ]]
}
node_works() { node -v && node -e 'process.exit(process.env.CORRAL_IN_VM === "1" ? 0 : 1)'; }
project_rw() {
  [ -r package.json ] && grep -q '"name": "corral"' package.json || { echo "package.json not readable in $(pwd)"; return 1; }
  echo "written in the VM" >"$probe" && [ "$(cat "$probe")" = "written in the VM" ]
}
overlay_mount() {
  local d=/tmp/ovl
  mkdir -p $d/l $d/u $d/w $d/m && echo lower >$d/l/f || return 1
  mount -t overlay -o lowerdir=$d/l,upperdir=$d/u,workdir=$d/w overlay $d/m || return 1
  echo upper >$d/m/f && [ "$(cat $d/l/f)" = lower ] && [ "$(cat $d/u/f)" = upper ]
  local rc=$?
  umount $d/m
  return $rc
}
userns_overlay() {
  # overlayfs inside a user namespace (kernel >= 5.11), as rootless containers do it.
  local d=/tmp/uovl
  mkdir -p $d/l $d/u $d/w $d/m && chmod -R 777 $d
  unshare -Urm sh -c "mount -t overlay -o lowerdir=$d/l,upperdir=$d/u,workdir=$d/w overlay $d/m && touch $d/m/x"
}
veth_pair() {
  # Needs the veth module, which the kernel loads on demand through the guest's modprobe.
  unshare -n sh -c 'ip link add v0 type veth peer name v1 && ip link set v0 up && ip -o link show v1'
}

echo "# kernel $(uname -r), cwd $(pwd), $(nproc) cpus"
check "running in the VM (CORRAL_IN_VM=1, Debian kernel)" sh -c '[ "$CORRAL_IN_VM" = 1 ] && uname -r | grep -q -- -amd64'
check "cgroup2fs at /sys/fs/cgroup, no v1" cgroup2_only
check "root subtree_control has cpu cpuset io memory pids hugetlb misc rdma" controllers
check "a child cgroup takes memory.max and pids.max" child_cgroup_enforces
check "node runs (node -v)" node_works
check "project dir readable and writable (overlay)" project_rw
check "overlayfs can be mounted" overlay_mount
check "overlayfs inside a user namespace" userns_overlay
check "unshare -Urmpf --mount-proc true (user+pid ns)" unshare -Urmpf --mount-proc true
check "veth pair in a new net ns (module autoload)" veth_pair
echo "# guest: $passed passed, $failed failed"
exit "$failed"
