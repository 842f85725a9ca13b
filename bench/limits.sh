#!/bin/sh
# What limits add to a start: `mult run -- /bin/true` with and without
# `--memory 64M --pids-limit 100 --cpus 1`, side by side in one run. On a
# v1 or hybrid host each limit's controller is a hierarchy more to make,
# join, write and remove (memory, pids, cpu); medians, the ratio and the
# difference in ms. The machine is shared and noisy, single times mean
# little.
#
# Alone: bench/limits.sh (RUNS=200 by default). Under bench/run-all.sh the
# results go to $WORK/results/limits/.
RUNS=${RUNS:-200}
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S=limits
echo "run to exit with and without limits ($RUNS runs each)" >&2

measure $S plain "$MULT run --rootfs $ROOTFS -- /bin/true"
measure $S limited "$MULT run --rootfs $ROOTFS --memory 64M --pids-limit 100 --cpus 1 -- /bin/true"

table $S plain,limited plain
python3 - "$RES/$S" <<'PY'
import json, os, sys
d = sys.argv[1]
def med(name):
    p = os.path.join(d, name + ".json")
    return json.load(open(p))["results"][0]["median"] * 1000 if os.path.exists(p) else None
plain, limited = med("plain"), med("limited")
if plain is None or limited is None:
    print("limits: n/a")
else:
    print(f"limits: {limited:.2f} ms vs {plain:.2f} ms median: x{limited / plain:.2f}, "
          f"{limited - plain:+.2f} ms per start")
PY
