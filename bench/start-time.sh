#!/bin/sh
# Start-to-exit time of an instance running /bin/true, side by side in one
# run: mult, mult-oci run, the kernel's floor (unshare with the same
# namespaces), crun, runc and bubblewrap where installed, and plain
# /bin/true. Medians and ratios; this machine is shared and noisy, single
# times mean little.
#
# crun refuses hybrid cgroup hosts; it is measured in a private mount
# namespace where /sys/fs/cgroup/unified is unmounted, as its own docs ask.
#
# Alone: bench/start-time.sh (RUNS=200 by default). Under bench/run-all.sh
# the results go to $WORK/results/start/ for docs/performance.md.
RUNS=${RUNS:-200}
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
command -v bwrap >/dev/null || need bwrap bubblewrap || true
S=start
echo "run to exit ($RUNS runs each)" >&2

measure $S mult "$MULT run --rootfs $ROOTFS -- /bin/true"
if [ -n "$OCI" ]; then
  ALLOW_FAIL=1 measure $S mult-oci "$OCI --root $WORK/oci-start run -b $BUNDLE_TRUE bench-oci-$$"
else
  na $S mult-oci "build/mult-oci missing or does not answer --version"
fi
measure $S unshare-floor "unshare -pfmuinC --fork /bin/true"
measure $S true /bin/true
if command -v crun >/dev/null; then
  CRUN_NS=1 measure $S crun "crun --root $WORK/crun-start run -b $BUNDLE_TRUE bench-crun-$$"
else
  na $S crun "crun not installed"
fi
if command -v runc >/dev/null; then
  measure $S runc "runc --root $WORK/runc-start run -b $BUNDLE_TRUE bench-runc-$$"
else
  na $S runc "runc not installed"
fi
if command -v bwrap >/dev/null; then
  measure $S bwrap "bwrap --unshare-all --bind $ROOTFS / --proc /proc --dev /dev /bin/true"
else
  na $S bwrap "bubblewrap not installed"
fi

# Paired: mult, crun and the floor in turn, one run each a round, in the
# same minutes (bench/paired.py); crun in its namespace, held by a process
# of this script's own. PAIRED_ROUNDS (600: every order of the three 100
# times) costs about ten seconds.
PAIRED_ROUNDS=${PAIRED_ROUNDS:-600}
if command -v crun >/dev/null; then
  unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec sleep 100000' &
  holder=$!
  i=0
  while grep -q ' /sys/fs/cgroup/unified ' "/proc/$holder/mountinfo" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.02; i=$((i + 1))
  done
  echo "paired runs ($PAIRED_ROUNDS rounds): mult, crun, unshare-floor" >&2
  CRUN_NS_PID=$holder python3 "$BENCH/paired.py" "$RES/$S/paired.json" "$PAIRED_ROUNDS" "$WARMUP" \
    "mult=$MULT run --rootfs $ROOTFS -- /bin/true" \
    "crun@crun-ns=crun --root $WORK/crun-start run -b $BUNDLE_TRUE bench-crun-p$$" \
    "unshare-floor=unshare -pfmuinC --fork /bin/true" || echo "  paired runs failed" >&2
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
fi

table $S mult,mult-oci,unshare-floor,crun,runc,bwrap,true unshare-floor crun
