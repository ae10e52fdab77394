#!/bin/busybox sh
# corral VM harness: the guest's init. run-in-vm.sh packs this file as /init into a busybox
# initramfs, together with a static busybox and the few kernel modules listed in MODULES below.
#
# Stage 1 (PID 1 in the initramfs): load virtio/9p/overlay modules, mount the host's / (read-only
# 9p share "corral-root") under a tmpfs overlay as the new root, mount the kernel filesystems and a
# cgroup2-only hierarchy into it, then switch_root into stage 2.
# Stage 2 (PID 1 in the new root, run from /run/corral-vm): run the command that the host left in
# the read-write 9p share "corral-io", with stdout/stderr on virtio serial ports, write its exit
# code to the share, power off.
#
# Everything goes wrong loudly: any failure before the command runs prints "corral-vm: FATAL" on the
# console and powers off without an exit-code file, which the host reports as a harness error.
# This is POSIX sh for busybox ash; it deliberately does not use `set -e` so that `fatal` can report.

BB=/bin/busybox
STAGE=${1:-stage1}

log() { echo "corral-vm: $*"; }
fatal() {
  log "FATAL: $*"
  [ -n "${STATUS:-}" ] && [ -w "$STATUS" ] && echo "fatal $*" >"$STATUS" 2>/dev/null
  sync
  $BB poweroff -f
  # poweroff -f should not return; if it does, do not let PID 1 exit (that panics with a less
  # readable message).
  while :; do $BB sleep 1000; done
}
# Find the /dev node of the virtio serial port whose name is $1 (names are set on the qemu side).
# The host sends port names over the control queue after the driver has probed, i.e. a little
# after modprobe returned: poll for up to 10 s.
vport() {
  i=0
  while [ $i -lt 200 ]; do
    for p in /sys/class/virtio-ports/*; do
      [ "$($BB cat "$p/name" 2>/dev/null)" = "$1" ] && [ -c "/dev/${p##*/}" ] && { echo "/dev/${p##*/}"; return 0; }
    done
    $BB sleep 0.05
    i=$((i + 1))
  done
  return 1
}
status() { [ -n "${STATUS:-}" ] && echo "$*" >"$STATUS"; }

if [ "$STAGE" = stage1 ]; then
  export PATH=/bin
  $BB --install -s /bin
  mkdir -p /proc /sys /dev /mnt/lower /mnt/rw /newroot
  mount -t proc proc /proc || fatal "mount proc"
  mount -t sysfs sysfs /sys || fatal "mount sysfs"
  mount -t devtmpfs devtmpfs /dev || fatal "mount devtmpfs"

  # Debian builds virtio, 9p and overlay as modules; modules.dep in this initramfs was generated
  # for exactly the modules packed here, so busybox modprobe resolves their order. virtio_pci is
  # for `--machine pc`, virtio_mmio for microvm; the one without devices just sits there.
  # Drivers probe synchronously, so the 9p tags exist once modprobe returns (port names do not).
  for m in virtio_pci virtio_mmio 9pnet_virtio 9p overlay virtio_console virtio-rng; do
    modprobe "$m" || fatal "modprobe $m"
  done

  STATUS=$(vport corral.status) || fatal "no virtio port corral.status"
  status booting

  # The host's / read-only. msize: bigger 9p messages mean fewer round trips (each one is slow
  # under TCG). cache=loose is safe because nothing writes through this mount.
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose,access=client \
    corral-root /mnt/lower || fatal "mount 9p corral-root"
  # Writes in the VM land in this tmpfs and die with the VM: nothing leaks to the host's disk.
  mount -t tmpfs -o mode=0755,size=75% tmpfs /mnt/rw || fatal "mount tmpfs for overlay upper"
  mkdir -p /mnt/rw/upper /mnt/rw/work
  mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot \
    || fatal "mount overlay root"

  R=/newroot
  mount -t proc proc $R/proc || fatal "mount $R/proc"
  mount -t sysfs sysfs $R/sys || fatal "mount $R/sys"
  mount -t devtmpfs devtmpfs $R/dev || fatal "mount $R/dev"
  mkdir -p $R/dev/pts $R/dev/shm
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $R/dev/pts || fatal "mount devpts"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/dev/shm || fatal "mount /dev/shm"
  # What udev would normally create.
  ln -sfn /proc/self/fd $R/dev/fd
  ln -sfn /proc/self/fd/0 $R/dev/stdin
  ln -sfn /proc/self/fd/1 $R/dev/stdout
  ln -sfn /proc/self/fd/2 $R/dev/stderr

  # The results share: the host left keep-paths (and the command) there.
  mkdir -p /mnt/io
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none,access=client \
    corral-io /mnt/io || fatal "mount 9p corral-io"
  # Fresh tmpfs on /tmp and /run would hide a project that lives there on the host (a CI clone in
  # /tmp/...), or jest's cache warmed on the host. keep-paths lists the caller's dir, the harness's
  # cache dir and /tmp/jest_*: each one under /tmp or /run is bound (its overlay view: writes still
  # go to the tmpfs upper) back on top of the tmpfs.
  n=0
  while IFS= read -r p; do
    case "$p" in
      /tmp/*|/run/*)
        [ -d "$R$p" ] || continue
        n=$((n + 1)); mkdir -p /mnt/keep/$n
        mount --bind "$R$p" /mnt/keep/$n || fatal "bind $p"
        echo "$p" >/mnt/keep/$n.path ;;
    esac
  done </mnt/io/keep-paths
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/tmp || fatal "mount /tmp"
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs $R/run || fatal "mount /run"
  i=1
  while [ $i -le $n ]; do
    p=$(cat /mnt/keep/$i.path)
    mkdir -p "$R$p" && mount --move /mnt/keep/$i "$R$p" || fatal "move $p back"
    i=$((i + 1))
  done

  # cgroup2 only (the kernel runs with cgroup_no_v1=all), delegation-safe like systemd mounts it.
  mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || fatal "mount cgroup2"
  for c in $(cat $R/sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >$R/sys/fs/cgroup/cgroup.subtree_control || fatal "enable controller $c"
  done

  # The results share and the stage-2 tools live under /run (a tmpfs), not in the overlay.
  mkdir -p $R/run/corral-vm/io
  mount --move /mnt/io $R/run/corral-vm/io || fatal "move the results share"
  cp /bin/busybox /init $R/run/corral-vm/ || fatal "copy stage-2 tools"

  # The host's /lib/modules is for the host's kernel. Give the VM the unpacked Debian modules so
  # that the kernel can load e.g. veth or bridge on demand (busybox modprobe, modules.dep made
  # by run-in-vm.sh with busybox depmod).
  KVER=$(uname -r)
  MODDIR=$(cat /modules-path)
  if [ -d "$R$MODDIR" ]; then
    mkdir -p "$R/lib/modules/$KVER" && mount --bind "$R$MODDIR" "$R/lib/modules/$KVER" \
      || fatal "bind modules"
    printf '#!/run/corral-vm/busybox sh\nexec /run/corral-vm/busybox modprobe "$@"\n' >$R/run/corral-vm/modprobe
    chmod 755 $R/run/corral-vm/modprobe
    echo /run/corral-vm/modprobe >/proc/sys/kernel/modprobe
  fi

  hostname corral-vm
  ip link set lo up || fatal "lo up"
  exec switch_root /newroot /run/corral-vm/busybox sh /run/corral-vm/init stage2
  fatal "switch_root failed"
fi

# ---- stage 2: PID 1 in the new root ----
BB=/run/corral-vm/busybox
IO=/run/corral-vm/io
STATUS=$(vport corral.status) || fatal "no virtio port corral.status"
OUT=$(vport corral.stdout) || fatal "no virtio port corral.stdout"
ERR=$(vport corral.stderr) || fatal "no virtio port corral.stderr"
[ -r $IO/cmd.sh ] || fatal "no $IO/cmd.sh in the results share"

echo "corral-vm: running the command (cgroup2 controllers: $($BB cat /sys/fs/cgroup/cgroup.subtree_control))"
status "started $($BB cut -d' ' -f1 /proc/uptime)"
# A clean environment: cmd.sh exports what the host chose (PATH, HOME, CI, CORRAL_IN_VM, ...),
# changes to the caller's directory and execs the command. bash is the host's, seen through 9p.
$BB env -i /bin/bash --noprofile --norc $IO/cmd.sh </dev/null >"$OUT" 2>"$ERR" &
pid=$!
# PID 1 also inherits orphans; busybox's wait reaps them while it waits for the command.
wait $pid
rc=$?
status "exited $rc $($BB cut -d' ' -f1 /proc/uptime)"
echo "$rc" >$IO/exit.tmp && $BB mv $IO/exit.tmp $IO/exit || fatal "cannot write the exit code"
$BB sync
$BB poweroff -f
while :; do $BB sleep 1000; done
