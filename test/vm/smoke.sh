#!/usr/bin/env bash
# Smoke test of the VM harness, for CI: boots the cgroup2-only VM through test/vm/run-in-vm.sh and
# checks, from inside, what the cgroups/namespaces/overlay code relies on (test/vm/smoke-guest.sh),
# then, from the host, that exit codes propagate, that writes do not leak to the host, and that a
# command that never reports back ends in the harness error (125) rather than a silent pass, and
# that a guest kernel lockup is retried in a fresh VM (--retries) and never passes.
# Five boots, about 30-45 s in all. Exits non-zero if anything failed.
#
#   test/vm/smoke.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
cd "$PROJECT" # the harness runs the command in the caller's directory: make that the project

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# 1. The in-VM checks, in one boot. The probe file is written to the project dir inside the VM.
probe=".vm-smoke-probe-$$"
# stderr goes both to ours (streamed) and to $log (for the boot time); stdout passes through fd 3.
set +e
{ "$HERE/run-in-vm.sh" -- test/vm/smoke-guest.sh "$probe" 2>&1 1>&3 | tee "$log" >&2; } 3>&1
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 0 ]; then ok "in-VM checks (see above)"; else not_ok "in-VM checks: exit $rc"; fi
boot=$(sed -n 's/.*boot-to-command \([0-9.]*\) s.*/\1/p' "$log" | tail -1)
if [ -n "$boot" ]; then ok "boot-to-command took $boot s"; else not_ok "no boot-to-command time reported"; fi

# 2. Writes inside the VM stay inside: the probe must not exist on the host.
if [ -e "$probe" ]; then
  not_ok "a file written in the VM leaked to the host ($PROJECT/$probe)"
  rm -f "$probe"
else
  ok "writes in the VM do not reach the host"
fi

# 3. A failing command's exit code comes back as the harness's exit code, stdout and stderr too.
rc=0
out=$("$HERE/run-in-vm.sh" --quiet -- sh -c 'echo to-stdout; echo to-stderr >&2; exit 7' 2>"$log") || rc=$?
if [ "$rc" = 7 ]; then ok "exit code 7 propagates"; else not_ok "exit code: expected 7, got $rc"; fi
if [ "$out" = to-stdout ]; then ok "stdout streamed"; else not_ok "stdout: got '$out'"; fi
if grep -qx to-stderr "$log"; then ok "stderr streamed"; else not_ok "stderr: got '$(cat "$log")'"; fi

# 4. A command that outlives --timeout: harness error 125 with a message, not a pass.
rc=0
"$HERE/run-in-vm.sh" --quiet --timeout 8 -- sleep 600 2>"$log" || rc=$?
if [ "$rc" = 125 ] && grep -q 'did not finish within --timeout' "$log"; then
  ok "a timeout gives 125 and says so"
else
  not_ok "timeout: expected 125 with a message, got $rc: $(tail -3 "$log")"
fi

# 5. A guest kernel that locks up: with --retries 1, a second VM runs the command again, and
# when that one locks up too the end is 125 with a message. (The lockup is faked: the kernel's
# message is written to its log, then a panic is forced through sysrq.)
rc=0
out=$("$HERE/run-in-vm.sh" --quiet --retries 1 -- sh -c 'echo attempt; echo "<0>BUG: soft lockup - CPU#0 stuck for 22s! [smoke]" >/dev/kmsg; echo c >/proc/sysrq-trigger; sleep 60' 2>"$log") || rc=$?
if [ "$rc" = 125 ] && [ "$(grep -c '^attempt$' <<<"$out")" = 2 ] && grep -q 'attempt 1 of 2: the guest.s kernel locked up' "$log" \
  && grep -q 'locked up and panicked under the command' "$log"; then
  ok "a guest kernel lockup is retried once in a fresh VM, then gives 125 and says so"
else
  not_ok "lockup retry: expected 125 after 2 attempts, got $rc, stdout '$out': $(tail -5 "$log")"
fi

# 6. Nothing of these runs is left behind (a run dir of a live owner is a concurrent run's).
leftover=''
for d in "$HERE"/out/run-*; do
  [ -d "$d" ] && [ ! -e "$d/kept" ] || continue
  p=$(cat "$d/owner" 2>/dev/null || true)
  if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then leftover+=" $d"; fi
done
if [ -z "$leftover" ]; then ok "run dirs cleaned up"; else not_ok "run dirs left behind:$leftover"; fi

echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
