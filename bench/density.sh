#!/bin/sh
# Density: DENSITY idle instances (default 1,000) started one after the
# other, state under a temporary --root in the work directory, then removed
# with `mult rm -f` in batches of RM_BATCH names (default 100). Two kinds:
#  - idle (the targets are judged on these): system instances booted with
#    `mult create NAME --rootfs R` and `mult start NAME`; the image's /etc/rc
#    runs and ends, and the instance's only process is its init, mult-init;
#  - sleep: `mult run -d --rootfs R -- sleep 100000`, mult-init and a busybox
#    sleep under it.
# Measured: time to start all, time to remove all, MemAvailable before and
# after (per instance, KiB), the instances' own Pss, and the kernel's share
# (slab, kernel stacks, page tables, per-CPU memory) and tmpfs pages (the
# instances' state files and /dev); then that nothing is left: state, cgroup
# directories, mounts, processes.
#
# The same for crun (`crun run -d`, process sleep 100000, in crun's private
# mount namespace), removed with `crun delete -f` one by one.
#
# MemAvailable is the whole host's: anything else running at the same time
# (builds, other tests) moves it; the Pss and kernel figures are steadier.
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
N=${DENSITY:-1000}
RM_BATCH=${RM_BATCH:-100}
S=density
mkdir -p "$RES/$S"
PM="python3 $BENCH/procmem.py"
now() { date +%s%N; }
memavail() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
STEP=$(( N / 20 > 0 ? N / 20 : 1 ))
D=$WORK/density
MD="$MULT_BIN --root $D"
$MD ls >/dev/null  # the state directory exists before the first sample

# ---- mult ----
# mult_density KIND OUT: N instances of KIND (idle or sleep), results in OUT.
start_one() {
  if [ "$KIND" = idle ]; then
    $MD create "$1" --rootfs "$ROOTFS" && $MD start "$1"
  else
    $MD run -d --name "$1" --rootfs "$ROOTFS" -- sleep 100000
  fi
}
mult_density() {
  KIND=$1 OUT=$2 TAG=$1$$
  : >"$WORK/d-start.err"; : >"$WORK/d-rm.err"
  names() { i=0; while [ $i -lt "$N" ]; do echo "$TAG-$i"; i=$((i + 1)); done; }
  $PM meminfo >"$WORK/d-before.json"
  fails=0 k=0
  echo "0 $(memavail)" >"$WORK/d-ramp.txt"
  t0=$(now)
  for n in $(names); do
    start_one "$n" </dev/null >/dev/null 2>>"$WORK/d-start.err" || fails=$((fails + 1))
    k=$((k + 1))
    [ $((k % STEP)) != 0 ] || echo "$((k - fails)) $(memavail)" >>"$WORK/d-ramp.txt"
  done
  t1=$(now)
  sleep 2
  $PM meminfo >"$WORK/d-after.json"
  t2=$(now)
  $MD ls --format json >"$WORK/d-ls.json"
  t3=$(now)
  PIDS=$(python3 -c 'import json,sys; print(" ".join(str(i["pid"]) for i in json.load(open(sys.argv[1])) if i.get("pid")))' "$WORK/d-ls.json")
  RUNNING=$(python3 -c 'import json,sys; print(sum(i["state"] == "running" for i in json.load(open(sys.argv[1]))))' "$WORK/d-ls.json")
  # shellcheck disable=SC2086
  $PM pss $PIDS >"$WORK/d-pss.json"
  echo "  $KIND: started $((N - fails))/$N in $(( (t1 - t0) / 1000000 )) ms, $RUNNING running" >&2

  t4=$(now)
  names | xargs -n "$RM_BATCH" $MD rm -f >/dev/null 2>"$WORK/d-rm.err" || true
  t5=$(now)
  echo "  removed in $(( (t5 - t4) / 1000000 )) ms" >&2
  sleep 2
  $PM meminfo >"$WORK/d-end.json"
  # The kernel tears namespaces and cgroups down in the background: what
  # has not come back after 2 s should have after 10.
  sleep 8
  $PM meminfo >"$WORK/d-end10.json"

  # What is left: instances, state files (the image and the seccomp cache
  # are shared and stay), cgroup directories, mounts, processes.
  LEFT_LS=$($MD ls --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  LEFT_STATE=$(find "$D/run" -mindepth 1 -path "$D/run/seccomp" -prune -o -print 2>/dev/null | grep -c "$TAG-" || true)
  LEFT_CG=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "$TAG-*" 2>/dev/null | wc -l)
  LEFT_MNT=$(grep -c "$D/" /proc/self/mountinfo || true)
  # shellcheck disable=SC2086
  LEFT_PROCS=$($PM alive $PIDS)
  find "$D/run" -mindepth 1 -path "$D/run/seccomp" -prune -o -print 2>/dev/null | grep "$TAG-" | head -5 >"$WORK/d-left.txt" || true

  END10=$WORK/d-end10.json KIND=$KIND BENCH=$BENCH python3 - "$OUT" "$N" "$fails" "$RUNNING" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" \
    "$WORK/d-before.json" "$WORK/d-after.json" "$WORK/d-end.json" "$WORK/d-pss.json" \
    "$LEFT_LS" "$LEFT_STATE" "$LEFT_CG" "$LEFT_MNT" "$LEFT_PROCS" "$WORK/d-start.err" "$WORK/d-rm.err" "$WORK/d-left.txt" \
    "$WORK/d-ramp.txt" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["BENCH"])
from procmem import slope
a = sys.argv
out, n, fails, running = a[1], int(a[2]), int(a[3]), int(a[4])
t0, t1, t2, t3, t4, t5 = (int(x) for x in a[5:11])
before, after, end, pss = (json.load(open(p)) for p in a[11:15])
left = dict(zip(("instances", "state", "cgroups", "mounts", "processes"), (int(x) for x in a[15:20])))
errs = [open(p).read().strip().splitlines()[-3:] for p in a[20:22]]
started = n - fails
json.dump({
    "kind": os.environ["KIND"], "n": n, "started": started, "running": running,
    "start_s": (t1 - t0) / 1e9, "ls_s": (t3 - t2) / 1e9, "rm_s": (t5 - t4) / 1e9,
    "mem_before": before, "mem_after": after, "mem_end": end,
    "per_instance_kib": (before["MemAvailable"] - after["MemAvailable"]) / max(started, 1),
    "kernel_per_instance_kib": {k: (after[k] - before[k]) / max(started, 1)
                                for k in ("Slab", "SUnreclaim", "KernelStack", "PageTables", "Percpu")},
    "shmem_per_instance_kib": (after["Shmem"] - before["Shmem"]) / max(started, 1),
    "pss": pss, "pss_per_instance_kib": pss["pss_kb"] / max(started, 1),
    "not_returned_kib": before["MemAvailable"] - end["MemAvailable"],
    "not_returned_10s_kib": before["MemAvailable"] - json.load(open(os.environ["END10"]))["MemAvailable"],
    "left": left, "left_examples": open(a[22]).read().split(),
    "ramp_slope_kib": slope(a[23]),
    "start_errors": errs[0], "rm_errors": errs[1],
}, open(out, "w"), indent=1)
PY
}
mult_density idle "$RES/$S/mult.json"
mult_density sleep "$RES/$S/mult-sleep.json"

# ---- crun ----
if ! command -v crun >/dev/null; then
  na $S crun "crun not installed"
  exit 0
fi
C=$WORK/crun-density
CT=c$$
cat >"$WORK/crun-density.sh" <<EOF
# Runs in crun's private mount namespace.
set -u
N=$N; PM="$PM"; C=$C; CT=$CT; W=$WORK
now() { date +%s%N; }
\$PM meminfo >\$W/c-before.json
fails=0
STEP=$(( N / 20 > 0 ? N / 20 : 1 ))
memavail() { awk '/^MemAvailable:/ { print \$2 }' /proc/meminfo; }
echo "0 \$(memavail)" >\$W/c-ramp.txt
t0=\$(now)
i=0
while [ \$i -lt \$N ]; do
  crun --root \$C run -d -b $BUNDLE_SLEEP \$CT-\$i </dev/null >/dev/null 2>>\$W/c-start.err || fails=\$((fails + 1))
  i=\$((i + 1))
  [ \$((i % STEP)) != 0 ] || echo "\$((i - fails)) \$(memavail)" >>\$W/c-ramp.txt
done
t1=\$(now)
sleep 2
\$PM meminfo >\$W/c-after.json
PIDS=\$(crun --root \$C list 2>/dev/null | awk 'NR > 1 && \$3 == "running" { print \$2 }')
echo "\$PIDS" >\$W/c-pids.txt
\$PM pss \$PIDS >\$W/c-pss.json
t2=\$(now)
i=0
while [ \$i -lt \$N ]; do
  crun --root \$C delete -f \$CT-\$i >/dev/null 2>>\$W/c-rm.err || true
  i=\$((i + 1))
done
t3=\$(now)
sleep 2
\$PM meminfo >\$W/c-end.json
sleep 8
\$PM meminfo >\$W/c-end10.json
echo "\$fails \$t0 \$t1 \$t2 \$t3" >\$W/c-times.txt
echo "\$(crun --root \$C list -q 2>/dev/null | grep -c "\$CT-")" >\$W/c-left-ls.txt
EOF
: >"$WORK/c-start.err"; : >"$WORK/c-rm.err"
if in_crun_ns sh "$WORK/crun-density.sh" && [ -s "$WORK/c-times.txt" ]; then
  read -r cfails ct0 ct1 ct2 ct3 <"$WORK/c-times.txt"
  echo "  crun: started $((N - cfails))/$N in $(( (ct1 - ct0) / 1000000 )) ms, removed in $(( (ct3 - ct2) / 1000000 )) ms" >&2
  CLEFT_CG=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "$CT-*" 2>/dev/null | wc -l)
  # shellcheck disable=SC2046
  CLEFT_PROCS=$($PM alive $(cat "$WORK/c-pids.txt"))
  END10=$WORK/c-end10.json BENCH=$BENCH python3 - "$RES/$S/crun.json" "$N" $cfails $ct0 $ct1 $ct2 $ct3 \
    "$WORK/c-before.json" "$WORK/c-after.json" "$WORK/c-end.json" "$WORK/c-pss.json" \
    "$(cat "$WORK/c-left-ls.txt")" "$CLEFT_CG" "$CLEFT_PROCS" "$WORK/c-start.err" "$WORK/c-rm.err" \
    "$WORK/c-ramp.txt" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["BENCH"])
from procmem import slope
a = sys.argv
out, n, fails = a[1], int(a[2]), int(a[3])
t0, t1, t2, t3 = (int(x) for x in a[4:8])
before, after, end, pss = (json.load(open(p)) for p in a[8:12])
left = dict(zip(("instances", "cgroups", "processes"), (int(x) for x in a[12:15])))
errs = [open(p).read().strip().splitlines()[-3:] for p in a[15:17]]
started = n - fails
json.dump({
    "n": n, "started": started, "running": pss["procs"],
    "start_s": (t1 - t0) / 1e9, "rm_s": (t3 - t2) / 1e9,
    "mem_before": before, "mem_after": after, "mem_end": end,
    "per_instance_kib": (before["MemAvailable"] - after["MemAvailable"]) / max(started, 1),
    "kernel_per_instance_kib": {k: (after[k] - before[k]) / max(started, 1)
                                for k in ("Slab", "SUnreclaim", "KernelStack", "PageTables", "Percpu")},
    "shmem_per_instance_kib": (after["Shmem"] - before["Shmem"]) / max(started, 1),
    "pss": pss, "pss_per_instance_kib": pss["pss_kb"] / max(started, 1),
    "not_returned_kib": before["MemAvailable"] - end["MemAvailable"],
    "not_returned_10s_kib": before["MemAvailable"] - json.load(open(os.environ["END10"]))["MemAvailable"],
    "left": left, "start_errors": errs[0], "rm_errors": errs[1],
    "ramp_slope_kib": slope(a[17]),
}, open(out, "w"), indent=1)
PY
else
  na $S crun "crun density run failed: $(tail -n 2 "$WORK/c-start.err" | tr '\n' ' ')"
fi
[ "$OWN_WORK" = 1 ] && python3 "$BENCH/report.py" --density "$RES"
exit 0
