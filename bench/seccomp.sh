#!/bin/sh
# What the default seccomp profile costs at start: `mult run -- /bin/true`
# with the default profile and with --seccomp unconfined; medians and the
# difference in ms. The compiled filter is cached (<root>/run/seccomp); a
# warm-up run makes sure it is, so the figure is loading and installing the
# cached program, not compiling it with libseccomp.
#
# This machine is shared and noisy, and its load drifts: the runs are split
# into BLOCKS short blocks, the two commands back to back in each, their
# order swapped from block to block. Reported: each row's median over all
# its runs, and the median over the blocks of the difference within a block
# (what drift does not move).
#
# Alone: bench/seccomp.sh (RUNS=200 per row, BLOCKS=10). Under
# bench/run-all.sh the results go to $WORK/results/seccomp/.
RUNS=${RUNS:-200}
BLOCKS=${BLOCKS:-10}
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S=seccomp
PER=$(( (RUNS + BLOCKS - 1) / BLOCKS ))
echo "seccomp at start: run to exit, default profile vs unconfined ($BLOCKS blocks of $PER runs each)" >&2

# Warm-up: compiles the default profile once and caches it.
$MULT run --rootfs "$ROOTFS" -- /bin/true
ls "$WORK"/state/run/seccomp/*.bpf >/dev/null 2>&1 ||
  echo "  (no cached filter under $WORK/state/run/seccomp: every run compiles it)" >&2

DEFAULT="$MULT run --rootfs $ROOTFS -- /bin/true"
UNCONFINED="$MULT run --rootfs $ROOTFS --seccomp unconfined -- /bin/true"
b=1
while [ $b -le "$BLOCKS" ]; do
  if [ $((b % 2)) = 1 ]; then
    RUNS=$PER measure $S default-$b "$DEFAULT" 2>/dev/null
    RUNS=$PER measure $S unconfined-$b "$UNCONFINED" 2>/dev/null
  else
    RUNS=$PER measure $S unconfined-$b "$UNCONFINED" 2>/dev/null
    RUNS=$PER measure $S default-$b "$DEFAULT" 2>/dev/null
  fi
  b=$((b + 1))
done

# The blocks joined into one hyperfine result per row (for the table), and
# the paired differences.
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
    if any(r.get("exit_codes") or []):
        return None
    return r
pairs = []
for row in ("default", "unconfined"):
    rs = [r for r in (block(row, b) for b in range(1, blocks + 1)) if r]
    if not rs:
        continue
    times = [t for r in rs for t in r["times"]]
    n = len(times)
    out = {"command": row, "times": times, "exit_codes": [0] * n,
           "median": statistics.median(times), "mean": statistics.mean(times),
           "stddev": statistics.stdev(times) if n > 1 else 0, "min": min(times), "max": max(times),
           "user": sum(r["user"] * len(r["times"]) for r in rs) / n,
           "system": sum(r["system"] * len(r["times"]) for r in rs) / n}
    json.dump({"results": [out]}, open(os.path.join(d, row + ".json"), "w"))
for b in range(1, blocks + 1):
    a, u = block("default", b), block("unconfined", b)
    if a and u:
        pairs.append((a["median"] - u["median"]) * 1000)
json.dump({"paired_diff_ms": pairs}, open(os.path.join(d, "paired.json"), "w"))
PY

table $S default,unconfined unconfined
python3 - "$RES/$S" <<'PY'
import json, os, statistics, sys
d = sys.argv[1]
med = {}
for row in ("default", "unconfined"):
    p = os.path.join(d, row + ".json")
    if os.path.exists(p):
        med[row] = json.load(open(p))["results"][0]["median"] * 1000
pairs = json.load(open(os.path.join(d, "paired.json")))["paired_diff_ms"]
if len(med) == 2 and pairs:
    diff = med["default"] - med["unconfined"]
    q = sorted(pairs)
    print(f"default profile - unconfined: {diff:+.2f} ms between the medians "
          f"({med['default']:.2f} vs {med['unconfined']:.2f} ms, {100 * diff / med['unconfined']:+.1f} %); "
          f"within a block: median {statistics.median(pairs):+.2f} ms "
          f"(range {q[0]:+.2f} .. {q[-1]:+.2f}, {len(pairs)} blocks)")
else:
    print("difference: n/a (a row could not be measured)")
PY
