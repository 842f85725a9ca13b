#!/bin/sh
# What limits add to a start: `mult run -- /bin/true` without limits
# (plain), with `--memory 64M --pids-limit 100 --cpus 1` (limited: on a v1
# or hybrid host three v1 hierarchies to make, enter, write and remove) and
# with `--hugetlb 2MB:4M` alone (unified: on this hybrid host hugetlb is the
# one cgroup v2 controller, so the pure v2 path, no v1 hierarchy at all).
#
# Each back to back, and spaced out (hyperfine --prepare 'sleep 0.05', rows
# spaced-*). Spaced out is what a host starting an instance now and then
# sees: a move into a v1 cgroup through cgroup.procs takes the global
# cgroup_threadgroup_rwsem for writing, and its percpu_down_write waits for
# an RCU grace period (~10 ms) unless it was taken just before; back to back
# the lock stays warm and hides that. mult has the instance move itself
# (CgroupEntry: a thread moving itself skips that lock); these rows show
# whether a start still waits.
#
# This machine is shared and noisy, and its load drifts: the runs are split
# into BLOCKS short blocks, the rows of a kind back to back in each, their
# order rotated from block to block. Reported: each row's median over all
# its runs, and the median over the blocks of each row's difference to
# plain within a block (what drift does not move).
#
# Alone: bench/limits.sh (RUNS=200 per row, BLOCKS=10). Under
# bench/run-all.sh the results go to $WORK/results/limits/.
RUNS=${RUNS:-200}
BLOCKS=${BLOCKS:-10}
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S=limits
PER=$(( (RUNS + BLOCKS - 1) / BLOCKS ))
echo "run to exit with and without limits, back to back and spaced out ($BLOCKS blocks of $PER runs each)" >&2

RUN="$MULT run --rootfs $ROOTFS"
cmd_of() {
  case $1 in
    plain) echo "$RUN -- /bin/true" ;;
    limited) echo "$RUN --memory 64M --pids-limit 100 --cpus 1 -- /bin/true" ;;
    unified) echo "$RUN --hugetlb 2MB:4M -- /bin/true" ;;
  esac
}
b=1
while [ $b -le "$BLOCKS" ]; do
  case $((b % 3)) in
    1) order="plain limited unified" ;;
    2) order="limited unified plain" ;;
    0) order="unified plain limited" ;;
  esac
  for row in $order; do
    RUNS=$PER measure $S "$row-$b" "$(cmd_of $row)" 2>/dev/null
    RUNS=$PER PREPARE="sleep 0.05" measure $S "spaced-$row-$b" "$(cmd_of $row)" 2>/dev/null
  done
  b=$((b + 1))
done

# The blocks joined into one hyperfine result per row (for the table), and
# the paired differences to plain.
python3 - "$RES/$S" "$BLOCKS" <<'PY'
import json, os, statistics, sys
d, blocks = sys.argv[1], int(sys.argv[2])
def block(row, b):
    p = os.path.join(d, f"{row}-{b}.json")
    if not os.path.exists(p):
        e = os.path.join(d, f"{row}-{b}.err")
        if os.path.exists(e):
            print(f"  {row}, block {b}: n/a ({open(e).read().strip()})", file=sys.stderr)
        return None
    r = json.load(open(p))["results"][0]
    return None if any(r.get("exit_codes") or []) else r
paired = {}
for prefix in ("", "spaced-"):
    for row in ("plain", "limited", "unified"):
        rs = [r for r in (block(prefix + row, b) for b in range(1, blocks + 1)) if r]
        if not rs:
            continue
        times = [t for r in rs for t in r["times"]]
        n = len(times)
        out = {"command": prefix + row, "times": times, "exit_codes": [0] * n,
               "median": statistics.median(times), "mean": statistics.mean(times),
               "stddev": statistics.stdev(times) if n > 1 else 0, "min": min(times), "max": max(times),
               "user": sum(r["user"] * len(r["times"]) for r in rs) / n,
               "system": sum(r["system"] * len(r["times"]) for r in rs) / n}
        json.dump({"results": [out]}, open(os.path.join(d, prefix + row + ".json"), "w"))
        if row != "plain":
            diffs = []
            for b in range(1, blocks + 1):
                x, p = block(prefix + row, b), block(prefix + "plain", b)
                if x and p:
                    diffs.append((x["median"] - p["median"]) * 1000)
            paired[prefix + row] = diffs
json.dump({"paired_diff_ms": paired}, open(os.path.join(d, "paired.json"), "w"))
PY

table $S plain,limited,unified plain
table $S spaced-plain,spaced-limited,spaced-unified spaced-plain
python3 - "$RES/$S" <<'PY'
import json, os, statistics, sys
d = sys.argv[1]
p = os.path.join(d, "paired.json")
pairs = json.load(open(p))["paired_diff_ms"] if os.path.exists(p) else {}
for row in ("limited", "unified", "spaced-limited", "spaced-unified"):
    q = sorted(pairs.get(row) or [])
    if not q:
        print(f"{row}: n/a")
        continue
    print(f"{row}: {statistics.median(q):+.2f} ms per start against plain, median of {len(q)} blocks "
          f"(range {q[0]:+.2f} .. {q[-1]:+.2f})")
PY
