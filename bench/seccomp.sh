#!/bin/sh
# What the default seccomp profile costs at start: `mult run -- /bin/true`
# with the default profile and with --seccomp unconfined, both in one
# hyperfine run; their medians, CPU (user+sys), and the difference of the
# medians against the target: at most +0.5 ms.
#
# The compiled filter is cached (<root>/run/seccomp); a first run makes sure
# it is, so the figure is what every later start pays: finding the cached
# program and installing it, not compiling it with libseccomp.
#
# Hyperfine runs one command's runs, then the other's, so drift in this
# shared host's load falls on one row: the hyperfine run is repeated
# SECCOMP_ROUNDS times, short, the order swapped each time. The rows pool
# every round; the target is judged on the median over the rounds of each
# round's own difference of the medians, which drift moves least.
#
# Alone: bench/seccomp.sh (RUNS=50 per command and round, WARMUP=5,
# SECCOMP_ROUNDS=6). Under bench/run-all.sh the results go to
# $WORK/results/seccomp/.
RUNS=${RUNS:-50}
WARMUP=${WARMUP:-5}
SECCOMP_ROUNDS=${SECCOMP_ROUNDS:-6}
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S=seccomp
mkdir -p "$RES/$S"
rm -f "$RES/$S"/*.json "$RES/$S"/*.err
echo "seccomp at start: run to exit, default profile vs unconfined ($SECCOMP_ROUNDS hyperfine run(s) of $RUNS runs per command)" >&2

DEFAULT="$MULT run --rootfs $ROOTFS -- /bin/true"
UNCONFINED="$MULT run --rootfs $ROOTFS --seccomp unconfined -- /bin/true"

# Each command once, with a timeout: a failure is reported instead of
# hanging hyperfine, and the default profile's filter gets compiled and cached.
for row in default unconfined; do
  cmd=$DEFAULT
  [ $row = unconfined ] && cmd=$UNCONFINED
  rc=0
  timeout "${PROBE_TIMEOUT:-30}" $cmd </dev/null >"$WORK/probe.out" 2>&1 || rc=$?
  if [ $rc != 0 ]; then
    na $S $row "exit $rc: $(tail -n 3 "$WORK/probe.out" | tr '\n' ' ')"
    exit 0
  fi
done
ls "$WORK"/state/run/seccomp/*.bpf >/dev/null 2>&1 ||
  echo "  (no cached filter under $WORK/state/run/seccomp: every run compiles it)" >&2

r=1
while [ $r -le "$SECCOMP_ROUNDS" ]; do
  if [ $((r % 2)) = 1 ]; then
    set -- -n default "$DEFAULT" -n unconfined "$UNCONFINED"
  else
    set -- -n unconfined "$UNCONFINED" -n default "$DEFAULT"
  fi
  if ! timeout "${HYPERFINE_TIMEOUT:-900}" hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
      --export-json "$RES/$S/round-$r.json" "$@" </dev/null >"$WORK/hf.out" 2>&1; then
    na $S default "failed under hyperfine: $(tail -n 3 "$WORK/hf.out" | tr '\n' ' ')"
    exit 0
  fi
  r=$((r + 1))
done

# The rounds pooled into one hyperfine-like result per row (for the table),
# and each round's difference of the medians.
python3 - "$RES/$S" "$SECCOMP_ROUNDS" <<'PY'
import json, os, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
per_round = [{r["command"]: r for r in json.load(open(os.path.join(d, f"round-{i}.json")))["results"]}
             for i in range(1, rounds + 1)]
for row in ("default", "unconfined"):
    rs = [p[row] for p in per_round]
    times = [t for r in rs for t in r["times"]]
    codes = [c for r in rs for c in (r.get("exit_codes") or [0] * len(r["times"]))]
    n = len(times)
    out = {"command": row, "times": times, "exit_codes": codes,
           "median": statistics.median(times), "mean": statistics.mean(times),
           "stddev": statistics.stdev(times) if n > 1 else 0, "min": min(times), "max": max(times),
           "user": sum(r["user"] * len(r["times"]) for r in rs) / n,
           "system": sum(r["system"] * len(r["times"]) for r in rs) / n}
    json.dump({"results": [out]}, open(os.path.join(d, row + ".json"), "w"))
diffs = [(p["default"]["median"] - p["unconfined"]["median"]) * 1000 for p in per_round]
json.dump({"paired_diff_ms": diffs, "unit": "round"}, open(os.path.join(d, "paired.json"), "w"))
PY

table $S default,unconfined unconfined
python3 - "$RES/$S" <<'PY'
import json, os, statistics, sys
d = sys.argv[1]
r = {row: json.load(open(os.path.join(d, row + ".json")))["results"][0] for row in ("default", "unconfined")}
med = {k: v["median"] * 1000 for k, v in r.items()}
cpu = {k: (v["user"] + v["system"]) * 1000 for k, v in r.items()}
diff = med["default"] - med["unconfined"]
rounds = json.load(open(os.path.join(d, "paired.json")))["paired_diff_ms"]
judged = statistics.median(rounds)
print(f"default profile - unconfined: {diff:+.2f} ms between the pooled medians "
      f"({med['default']:.2f} vs {med['unconfined']:.2f} ms), CPU {cpu['default'] - cpu['unconfined']:+.2f} ms "
      f"(user+sys)")
print("within each round: " + ", ".join(f"{x:+.2f}" for x in rounds) +
      f" ms; median {judged:+.2f} ms, target at most +0.50 ms: {'met' if judged <= 0.5 else 'NOT MET'}")
PY
