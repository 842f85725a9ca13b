#!/bin/sh
# What limits add to a start: `mult run -- /bin/true` without limits, with
# `--memory 64M --pids-limit 100 --cpus 1` (on a v1 or hybrid host: three
# v1 hierarchies to make, enter, write and remove) and with
# `--hugetlb 2MB:4M` alone (on this hybrid host hugetlb is the one cgroup v2
# controller: the pure v2 path, no v1 hierarchy at all).
#
# Each twice: back to back, and spaced out (hyperfine --prepare 'sleep
# 0.05'). Spaced out is what a host starting an instance now and then sees:
# a move into a v1 cgroup through cgroup.procs takes the global
# cgroup_threadgroup_rwsem for writing, and its percpu_down_write waits for
# an RCU grace period (~10 ms) unless it was taken just before; back to back
# the lock stays warm and hides that. mult has the instance move itself
# (CgroupEntry), which skips the lock; these rows show whether it still
# waits. Medians, ratios and the differences in ms. The machine is shared
# and noisy, single times mean little.
#
# Alone: bench/limits.sh (RUNS=200 by default). Under bench/run-all.sh the
# results go to $WORK/results/limits/.
RUNS=${RUNS:-200}
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S=limits
echo "run to exit with and without limits ($RUNS runs each, back to back and spaced out)" >&2

RUN="$MULT run --rootfs $ROOTFS"
LIMITS="--memory 64M --pids-limit 100 --cpus 1"
HUGE="--hugetlb 2MB:4M"
measure $S plain "$RUN -- /bin/true"
measure $S limited "$RUN $LIMITS -- /bin/true"
measure $S unified "$RUN $HUGE -- /bin/true"
PREPARE="sleep 0.05" measure $S spaced-plain "$RUN -- /bin/true"
PREPARE="sleep 0.05" measure $S spaced-limited "$RUN $LIMITS -- /bin/true"
PREPARE="sleep 0.05" measure $S spaced-unified "$RUN $HUGE -- /bin/true"

table $S plain,limited,unified plain
table $S spaced-plain,spaced-limited,spaced-unified spaced-plain
python3 - "$RES/$S" <<'PY'
import json, os, sys
d = sys.argv[1]
def med(name):
    p = os.path.join(d, name + ".json")
    return json.load(open(p))["results"][0]["median"] * 1000 if os.path.exists(p) else None
for prefix, how in (("", "back to back"), ("spaced-", "spaced out")):
    base = med(prefix + "plain")
    for row in ("limited", "unified"):
        v = med(prefix + row)
        if base is None or v is None:
            print(f"{prefix}{row}: n/a")
        else:
            print(f"{prefix}{row} ({how}): {v:.2f} ms vs {base:.2f} ms median: x{v / base:.2f}, "
                  f"{v - base:+.2f} ms per start")
PY
