#!/usr/bin/env bash
# Run one command inside a throw-away Linux VM whose kernel has cgroup2 only (cgroup_no_v1=all),
# with every cgroup2 controller enabled, and exit with the command's exit code.
#
#   test/vm/run-in-vm.sh [--timeout SECONDS] [--mem MiB] [--cpus N] [--machine microvm|pc]
#                        [--retries N] [--env NAME[=VALUE]]... [--quiet] [--keep] -- <command> [args...]
#
# Why a VM: this host mounts cgroups hybrid (v1 controllers, an empty v2 hierarchy), and its
# /dev/kvm cannot run a stock kernel, so Debian's own kernel is booted under qemu with software
# emulation (TCG). The guest sees the host's / read-only over virtio-9p under a tmpfs overlay, so
# node, node_modules and the project are at the same paths, and nothing it writes reaches the host.
# See test/vm/README.md.
#
# Exit status: the command's own, or 125 when the harness could not produce one (setup failed, the
# VM did not boot, the command never reported back before --timeout). Never a silent success.
# --retries N: when the guest's kernel locks up under the command (a soft lockup or an RCU stall
# on its console; it then panics), boot a fresh VM and run the command again, up to N more times,
# saying so; never after a timeout or once the command reported an exit code.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT="$HERE/out"
HARNESS_ERR=125

timeout_s=1800
mem_mib=3072
cpus=2
machine=microvm
retries=0
quiet=0
keep=0
extra_env=()

die() { echo "run-in-vm: error: $*" >&2; exit "$HARNESS_ERR"; }
note() { [ "$quiet" = 1 ] || echo "run-in-vm: $*" >&2; }
usage() { # [exit status]
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-$HARNESS_ERR}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    --mem) [ $# -ge 2 ] || usage; mem_mib=$2; shift 2 ;;
    --mem=*) mem_mib=${1#*=}; shift ;;
    --cpus) [ $# -ge 2 ] || usage; cpus=$2; shift 2 ;;
    --cpus=*) cpus=${1#*=}; shift ;;
    --env) [ $# -ge 2 ] || usage; extra_env+=("$2"); shift 2 ;;
    --env=*) extra_env+=("${1#*=}"); shift ;;
    --machine) [ $# -ge 2 ] || usage; machine=$2; shift 2 ;;
    --machine=*) machine=${1#*=}; shift ;;
    --retries) [ $# -ge 2 ] || usage; retries=$2; shift 2 ;;
    --retries=*) retries=${1#*=}; shift ;;
    --quiet|-q) quiet=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "run-in-vm: unknown option: $1" >&2; usage ;;
  esac
done
[ $# -ge 1 ] || { echo "run-in-vm: no command given" >&2; usage; }
for n in "$timeout_s" "$mem_mib" "$cpus"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "not a positive integer: $n"
done
[[ "$retries" =~ ^[0-9]+$ ]] || die "--retries: not a number: $retries"

case "$machine" in
  # microvm: no PCI bus or legacy devices to probe, virtio over MMIO; boots ~1 s faster than pc
  # under TCG. pc is the conservative fallback (virtio over PCI).
  microvm) bus=device; machine_opt=microvm; kargs_machine="pci=off" ;;
  pc) bus=pci; machine_opt=pc; kargs_machine="" ;;
  *) die "--machine must be microvm or pc" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (apt-get installs, and qemu must read the whole host / for the 9p share)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported"

mkdir -p "$OUT"
caller_dir=$(pwd -P)

# ---------------------------------------------------------------------------------------------
# Setup (first use): host packages, the Debian kernel, the initramfs. Serialised with a lock so
# that concurrent first runs do not download or unpack into the same place.
# ---------------------------------------------------------------------------------------------
apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    note "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    apt_updated=1
  fi
}

ensure_host_packages() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  # The initramfs needs a *static* busybox (there is no libc in it); package busybox-static.
  if ! { [ -x /bin/busybox ] && ! LC_ALL=C ldd /bin/busybox >/dev/null 2>&1; }; then
    missing+=(busybox-static)
  fi
  command -v xz >/dev/null || missing+=(xz-utils)
  command -v setpriv >/dev/null || missing+=(util-linux)
  command -v flock >/dev/null || missing+=(util-linux)
  [ ${#missing[@]} -eq 0 ] && return 0
  note "installing ${missing[*]}"
  # --no-install-recommends: qemu's recommends pull in a GUI stack we never use.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
      || die "apt-get install ${missing[*]} failed"
  fi
}

# Resolve the real kernel package behind the linux-image-amd64 metapackage (e.g.
# linux-image-6.1.0-56-amd64), download it (never install it: the host's /boot stays untouched) and
# unpack it into $OUT/kernel/<package>_<version>/. Prints that directory.
ensure_kernel() {
  local cur="$OUT/kernel/current"
  if [ -z "${CORRAL_VM_REFRESH_KERNEL:-}" ] && [ -f "$cur" ] && [ -f "$OUT/kernel/$(cat "$cur")/ready" ]; then
    echo "$OUT/kernel/$(cat "$cur")"
    return 0
  fi
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}') || true
  if [ -z "$pkg" ]; then
    apt_update_once
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}') || true
  fi
  [ -n "$pkg" ] || die "cannot resolve the kernel package behind linux-image-amd64 (apt-cache depends)"
  local ver name dir tmp
  ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
  [ -n "$ver" ] || die "apt-cache show $pkg gave no version"
  name="${pkg}_${ver}"
  dir="$OUT/kernel/$name"
  if [ ! -f "$dir/ready" ]; then
    note "fetching kernel $name (apt-get download; not installed on the host)"
    tmp=$(mktemp -d "$OUT/kernel-dl.XXXXXX")
    chmod 755 "$tmp"
    # Sandbox user root: _apt could not write into our dir anyway (apt would warn, then do the same).
    if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$ver" >&2); then
      apt_update_once
      (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$ver" >&2) || { rm -rf "$tmp"; die "apt-get download $pkg=$ver failed"; }
    fi
    mkdir -p "$tmp/root"
    dpkg-deb -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; die "dpkg-deb -x failed"; }
    rm -f "$tmp"/*.deb
    local kver
    kver=$(basename "$(ls -d "$tmp"/root/lib/modules/*/ | head -1)")
    [ -n "$kver" ] && [ -f "$tmp/root/boot/vmlinuz-$kver" ] || { rm -rf "$tmp"; die "no vmlinuz in $pkg"; }
    echo "$kver" >"$tmp/kver"
    # modules.dep etc. are made by depmod at install time, which we skip; busybox's depmod makes
    # them (modules.dep, modules.alias, modules.symbols) for the guest's busybox modprobe.
    /bin/busybox depmod -b "$tmp/root" "$kver" || { rm -rf "$tmp"; die "busybox depmod failed"; }
    extract_vmlinux "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinux" || true
    touch "$tmp/ready"
    mkdir -p "$OUT/kernel"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  echo "$name" >"$cur.tmp" && mv "$cur.tmp" "$cur"
  echo "$dir"
}

# Booting the uncompressed ELF vmlinux (qemu enters it through its PVH note) saves the ~3 s that
# the kernel's own xz decompressor takes under TCG. Like the kernel's scripts/extract-vmlinux: find
# the xz stream's magic in the bzImage and decompress from there. On failure the bzImage is booted.
extract_vmlinux() {
  local img=$1 dst=$2 off
  # The xz magic is FD 37 7A 58 5A 00; bash strings cannot hold the NUL, and the first 5 bytes suffice.
  off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$img" 2>/dev/null | head -1 | cut -d: -f1) || true
  [ -n "$off" ] || { note "no xz payload in $img; will boot the bzImage"; return 1; }
  # --single-stream: the payload is followed by non-xz bytes, which are not an error here; xz
  # then stops reading, so tail may die of SIGPIPE, which is fine too (hence the `|| true`).
  if { tail -c +"$((off + 1))" "$img" || true; } | xz -dc --single-stream >"$dst.tmp" 2>/dev/null \
     && [ "$(head -c 4 "$dst.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$dst.tmp" "$dst"
    return 0
  fi
  rm -f "$dst.tmp"
  note "vmlinux extraction failed; will boot the bzImage"
  return 1
}

# The modules /init loads before it can see the host: the virtio PCI and MMIO transports (pc and
# microvm), 9p over virtio, overlay, virtio serial ports and rng. Their dependencies come from the
# kernel's modules.dep. Keep in sync with the modprobe loop in guest-init.sh.
INITRD_MODULES="virtio_pci virtio_mmio 9pnet_virtio 9p overlay virtio_console virtio-rng"

module_files() { # kerneldir kver names... -> paths (relative to lib/modules/kver), deps included
  local mdir="$1/root/lib/modules/$2"; shift 2
  local m line
  for m in "$@"; do
    line=$(grep -E "(^|/)${m//-/[-_]}\.ko(\.[a-z]+)?:" "$mdir/modules.dep" | head -1)
    [ -n "$line" ] || die "module $m not in modules.dep"
    echo "${line%%:*}"
    # shellcheck disable=SC2086
    printf '%s\n' ${line#*:}
  done | sort -u
}

ensure_initramfs() { # kerneldir -> prints the initramfs path
  local kdir=$1 kver key img tmp f
  kver=$(cat "$kdir/kver")
  # Rebuilt whenever the init script, busybox, the module list or the kernel changes.
  key=$( { cat "$HERE/guest-init.sh"; echo "$INITRD_MODULES $kdir"; sha256sum /bin/busybox; } | sha256sum | cut -c1-16)
  img="$kdir/initramfs-$key.cpio"
  if [ ! -f "$img" ]; then
    note "building initramfs"
    tmp=$(mktemp -d "$OUT/initramfs.XXXXXX")
    mkdir -p "$tmp/bin" "$tmp/lib/modules/$kver"
    cp /bin/busybox "$tmp/bin/busybox"
    install -m 0755 "$HERE/guest-init.sh" "$tmp/init"
    for f in $(module_files "$kdir" "$kver" $INITRD_MODULES); do
      mkdir -p "$tmp/lib/modules/$kver/$(dirname "$f")"
      cp "$kdir/root/lib/modules/$kver/$f" "$tmp/lib/modules/$kver/$f"
    done
    cp "$kdir/root/lib/modules/$kver/modules.builtin" "$tmp/lib/modules/$kver/" 2>/dev/null || true
    /bin/busybox depmod -b "$tmp" "$kver" || die "busybox depmod (initramfs) failed"
    # Where the guest finds the full module tree, through the host's / it mounts.
    echo "$kdir/root/lib/modules/$kver" >"$tmp/modules-path"
    # Uncompressed: decompressing under TCG would cost more than reading a few MB.
    (cd "$tmp" && find . -mindepth 1 | /bin/busybox cpio -o -H newc >"$img.tmp" 2>/dev/null) || die "cpio failed"
    mv "$img.tmp" "$img"
    rm -rf "$tmp"
    # Older builds (from an older guest-init.sh) are dead weight; qemu reads its initrd at start.
    find "$kdir" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${img##*/}" -delete
  fi
  echo "$img"
}

# Remove run dirs left by runs that were SIGKILLed (the only way their trap could not run), and
# half-done downloads/initramfs builds of an interrupted setup (we hold the setup lock: nobody else
# is making one now).
reap_stale_runs() {
  local d pid
  rm -rf "$OUT"/kernel-dl.* "$OUT"/initramfs.*
  for d in "$OUT"/run-*; do
    [ -d "$d" ] || continue
    [ ! -e "$d/kept" ] || continue
    pid=$(cat "$d/owner" 2>/dev/null) || pid=
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    # A run dir without an owner file may be one that is being created right now: give it a minute.
    if [ -z "$pid" ] && [ -n "$(find "$d" -maxdepth 0 -mmin -1)" ]; then continue; fi
    rm -rf "$d"
  done
}

exec 9>"$OUT/.setup.lock"
flock 9
ensure_host_packages
KDIR=$(ensure_kernel)
INITRD=$(ensure_initramfs "$KDIR")
reap_stale_runs
flock -u 9
exec 9>&-

KVER=$(cat "$KDIR/kver")
if [ -f "$KDIR/vmlinux" ]; then KERNEL="$KDIR/vmlinux"; else KERNEL="$KDIR/root/boot/vmlinuz-$KVER"; fi

# ---------------------------------------------------------------------------------------------
# One attempt: a private run dir (mktemp: concurrent runs never share one), the command script,
# qemu. A retry (--retries) is a new attempt with a new run dir and a freshly booted VM.
# ---------------------------------------------------------------------------------------------
RUN='' ; qpid='' ; spid='' ; readers=()
# shellcheck disable=SC2317 # called from the EXIT trap and between attempts
cleanup() {
  # Only the processes this attempt started, by pid: qemu, then the fifo readers.
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill "$qpid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$qpid" 2>/dev/null || true
  fi
  [ -z "$spid" ] || kill "$spid" 2>/dev/null || true
  local p
  for p in ${readers[@]+"${readers[@]}"}; do kill "$p" 2>/dev/null || true; done
  qpid='' ; spid='' ; readers=()
  [ -n "$RUN" ] || return 0
  if [ "$keep" = 1 ]; then touch "$RUN/kept"; echo "run-in-vm: kept $RUN (console.log, status.log, io/)" >&2; else rm -rf "$RUN"; fi
  RUN=''
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Clock: under TCG the guest's TSC is the host's TSC. When the host's TSC is invariant, tell the
# guest so (tsc=reliable) and give it the frequency (tsc_early_khz): otherwise the guest calibrates
# it against the emulated PIT, which fails at random on a busy host -- microvm has no HPET or ACPI
# PM timer to fall back on, and the kernel then hangs early in boot -- and, once its TSC sync check
# has failed (it does under TCG), it keeps time with jiffies (4 ms resolution) or a slow HPET.
kargs_clock=""
if grep -qw constant_tsc /proc/cpuinfo && grep -qw nonstop_tsc /proc/cpuinfo; then
  tsc_khz=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
  if [ "${tsc_khz:-0}" -gt 100000 ]; then kargs_clock="tsc=reliable tsc_early_khz=$tsc_khz"; fi
fi
if [ -z "$kargs_clock" ] && [ "$machine" = microvm ]; then
  note "the host's TSC is not known to be invariant: using --machine pc (it has an HPET to calibrate against)"
  machine=pc bus=pci machine_opt=pc kargs_machine=""
fi
# cgroup_no_v1=all: the point of the VM. mitigations=off: page-table isolation etc. only slow the
# emulated syscalls down. panic=-1 with -no-reboot: a kernel panic ends qemu instead of hanging.
# softlockup_panic=1: should the guest's kernel lock up for good (it did under thread=multi, see
# below), a panic ends the VM ~20 s into it, so --retries can boot a fresh one; loglevel=5 with
# softlockup_all_cpu_backtrace=1 puts every CPU's stack on the console for a diagnosis.
# CORRAL_VM_KDEBUG: kernel log options for debugging boots (e.g. "loglevel=7"; see --keep).
cmdline="console=ttyS0 ${CORRAL_VM_KDEBUG:-quiet loglevel=5} panic=-1 softlockup_panic=1 softlockup_all_cpu_backtrace=1 cgroup_no_v1=all mitigations=off $kargs_clock $kargs_machine rdinit=/init"

# Boots the VM, runs the command in it and waits for qemu to end or for --timeout. Sets RUN,
# timed_out, qrc, t0 and t1; leaves the run dir for the caller to read.
attempt() {
  RUN=$(mktemp -d "$OUT/run-XXXXXX")
  echo $$ >"$RUN/owner"
  mkdir "$RUN/io"
  # cmd.sh: the environment node/npm need, the caller's directory, the command. printf %q quotes
  # for bash, which runs it in the guest.
  {
    echo '# generated by run-in-vm.sh'
    for v in PATH HOME CI TERM LANG LC_ALL TZ USER LOGNAME NODE_OPTIONS FORCE_COLOR NO_COLOR; do
      if [ -n "${!v+x}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
    done
    for e in ${extra_env[@]+"${extra_env[@]}"}; do
      case "$e" in
        *=*) printf 'export %s=%q\n' "${e%%=*}" "${e#*=}" ;;
        *) if [ -n "${!e+x}" ]; then printf 'export %s=%q\n' "$e" "${!e}"; fi ;;
      esac
    done
    echo 'export CORRAL_IN_VM=1'
    # The VM has no network: do not let npm try to look for a newer npm.
    echo 'export NPM_CONFIG_UPDATE_NOTIFIER=false'
    printf 'cd -- %q || { echo "run-in-vm (guest): cannot cd to %q" >&2; exit 125; }\n' "$caller_dir" "$caller_dir"
    printf 'exec'; printf ' %q' "$@"; printf '\n'
  } >"$RUN/io/cmd.sh"
  # Host paths the guest must see even if they lie under /tmp or /run, where it mounts fresh tmpfs:
  # the caller's dir, our cache dir, and jest's default cache (os.tmpdir()/jest_<uid>): transforms
  # the host already made (e.g. by a host `npm test` before) need not be redone under TCG, which
  # saves a quarter of a small suite's time. The guest sees them through its overlay: its own writes
  # there stay in the VM.
  {
    printf '%s\n' "$caller_dir" "$OUT"
    for d in /tmp/jest_*; do [ -d "$d" ] && printf '%s\n' "$d"; done
  } >"$RUN/io/keep-paths"

  # Guest stdout/stderr/status arrive on virtio serial ports that qemu writes into fifos; a reader
  # on each streams it to our stdout/stderr as it comes (the status reader stamps host time on lines).
  mkfifo "$RUN/stdout.fifo" "$RUN/stderr.fifo" "$RUN/status.fifo"
  cat "$RUN/stdout.fifo" &
  readers+=($!)
  cat "$RUN/stderr.fifo" >&2 &
  readers+=($!)
  while IFS= read -r line; do echo "$(date +%s.%N) $line"; done <"$RUN/status.fifo" >"$RUN/status.log" &
  readers+=($!)

  t0=$(date +%s.%N)
  # setpriv --pdeathsig KILL: if this script is SIGKILLed (no trap runs), the kernel kills qemu too.
  # TCG: /dev/kvm here cannot run a stock kernel. -nic none: the VM needs no network.
  # thread=single: both vCPUs take turns on one host thread. With thread=multi (one thread per
  # vCPU, twice the speed on an idle host) the guest's kernel locked up for good in 3 runs of about
  # 35, each time while a cgroup was being made; the one console with stacks shows a CPU spinning
  # on a jump-label site of kmem_cache_alloc that the kernel patches when the first memory cgroup
  # appears, as if it kept running code the other vCPU had rewritten (test/vm/README.md). One
  # thread cannot run stale code beside the writer. CORRAL_VM_TCG_THREAD=multi for speed.
  setpriv --pdeathsig KILL -- qemu-system-x86_64 \
    -nodefaults -no-user-config -no-reboot \
    -machine "$machine_opt" -accel "tcg,thread=${CORRAL_VM_TCG_THREAD:-single},tb-size=512" \
    -cpu "${CORRAL_VM_CPU:-max}" -smp "$cpus" -m "$mem_mib" \
    -display none -vga none -nic none \
    -kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline" \
    -chardev file,id=con,path="$RUN/console.log" -serial chardev:con \
    -fsdev local,id=fsroot,path=/,security_model=passthrough,readonly=on,multidevs=remap \
    -device virtio-9p-$bus,fsdev=fsroot,mount_tag=corral-root \
    -fsdev local,id=fsio,path="$RUN/io",security_model=passthrough \
    -device virtio-9p-$bus,fsdev=fsio,mount_tag=corral-io \
    -device virtio-serial-$bus \
    -chardev file,id=cout,path="$RUN/stdout.fifo" -device virtserialport,chardev=cout,name=corral.stdout \
    -chardev file,id=cerr,path="$RUN/stderr.fifo" -device virtserialport,chardev=cerr,name=corral.stderr \
    -chardev file,id=cst,path="$RUN/status.fifo" -device virtserialport,chardev=cst,name=corral.status \
    -device virtio-rng-$bus \
    </dev/null >"$RUN/qemu.log" 2>&1 &
  qpid=$!

  # Wait for qemu to exit, or for the timeout: whichever first.
  sleep "$timeout_s" &
  spid=$!
  timed_out=0
  set +e
  wait -n "$qpid" "$spid"
  set -e
  if kill -0 "$qpid" 2>/dev/null; then
    timed_out=1
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
  else
    kill "$spid" 2>/dev/null || true
  fi
  wait "$spid" 2>/dev/null || true
  qrc=0; wait "$qpid" 2>/dev/null || qrc=$?
  qpid=''
  spid=''
  # Let the readers drain what qemu wrote before it exited (they end at EOF). A reader whose fifo
  # qemu never opened (qemu failed early) would block in open() forever: opening each fifo
  # read-write (never blocks on Linux) and closing it again releases such a reader with EOF.
  local f fd p
  for f in "$RUN"/*.fifo; do exec {fd}<>"$f"; exec {fd}>&-; done
  for p in "${readers[@]}"; do wait "$p" 2>/dev/null || true; done
  readers=()
  t1=$(date +%s.%N)

  local started
  started=$(awk '$2 == "started" {print $1; exit}' "$RUN/status.log" 2>/dev/null || true)
  if [ -n "$started" ]; then
    note "$(awk -v a="$t0" -v b="$started" -v c="$t1" 'BEGIN {printf "boot-to-command %.1f s, total %.1f s", b - a, c - a}')"
  fi
}

# The guest's own kernel stopped making progress under the command (not the command failing).
guest_kernel_died() {
  grep -aqE 'BUG: soft lockup|hard LOCKUP|rcu_preempt detected stalls' "$RUN/console.log" 2>/dev/null
}

show_console() { # lines
  echo "run-in-vm: ---- last lines of the VM console ----" >&2
  tail -n "$1" "$RUN/console.log" >&2 2>/dev/null || true
}

fail() {
  echo "run-in-vm: error: $*" >&2
  show_console 60
  if [ -s "$RUN/status.log" ]; then
    echo "run-in-vm: ---- guest status (host time, message, guest uptime) ----" >&2
    cat "$RUN/status.log" >&2
  fi
  if [ -s "$RUN/qemu.log" ]; then
    echo "run-in-vm: ---- qemu said ----" >&2
    tail -n 20 "$RUN/qemu.log" >&2
  fi
  echo "run-in-vm: ----" >&2
  exit "$HARNESS_ERR"
}

for ((n = 1; ; n++)); do
  attempt "$@"
  if [ "$timed_out" = 0 ] && [ ! -f "$RUN/io/exit" ] && guest_kernel_died && [ "$n" -le "$retries" ]; then
    echo "run-in-vm: attempt $n of $((retries + 1)): the guest's kernel locked up $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f s", b - a}') into the run and panicked (console below): the command's output above is cut short; booting a fresh VM to run it again" >&2
    show_console 80
    echo "run-in-vm: ----" >&2
    cleanup
    continue
  fi
  break
done

if [ "$timed_out" = 1 ]; then
  fail "the command did not finish within --timeout $timeout_s s (VM killed)"
fi
if [ ! -f "$RUN/io/exit" ]; then
  if guest_kernel_died; then
    fail "the guest's kernel locked up and panicked under the command (qemu exit $qrc), $((retries + 1)) attempt(s)"
  fi
  fail "the VM stopped (qemu exit $qrc) without reporting an exit code: the guest failed to boot, reset, or its kernel panicked"
fi
rc=$(cat "$RUN/io/exit")
[[ "$rc" =~ ^[0-9]+$ ]] || fail "garbled exit code from the VM: '$rc'"
exit "$rc"
