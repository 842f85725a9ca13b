#!/bin/sh
# Overhead inside an instance: bench/syscalls.c (getpid, open+close, stat,
# fork+wait, pipe round trip; ns per op) on the host, inside a default mult
# instance (seccomp default profile) and inside one with --seccomp
# unconfined, the binary bind-mounted in read-only. ROUNDS rounds, the
# three interleaved and their order rotated each round; per op, the median
# over the rounds of each round's fastest batch (see syscalls.c), and the
# best round.
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
ROUNDS=${ROUNDS:-11}
ITER=${ITER:-200000}
S=overhead
mkdir -p "$RES/$S" "$WORK/sc"
need gcc gcc
gcc -static -O2 -o "$WORK/sc/syscalls" "$BENCH/syscalls.c"
echo "syscall overhead: $ROUNDS rounds of $ITER iterations" >&2

: >"$WORK/sc/raw.txt"
one() {  # one CONFIG
  case $1 in
    host) "$WORK/sc/syscalls" "$ITER" ;;
    mult) $MULT run --rootfs "$ROOTFS" --bind "$WORK/sc:/bench:ro" -- /bench/syscalls "$ITER" ;;
    mult-unconfined) $MULT run --rootfs "$ROOTFS" --seccomp unconfined --bind "$WORK/sc:/bench:ro" -- \
      /bench/syscalls "$ITER" ;;
  esac | sed "s/^/$1 /" >>"$WORK/sc/raw.txt"
}
r=0
while [ $r -lt "$ROUNDS" ]; do
  case $((r % 3)) in
    0) one host; one mult; one mult-unconfined ;;
    1) one mult; one mult-unconfined; one host ;;
    2) one mult-unconfined; one host; one mult ;;
  esac
  r=$((r + 1))
done

python3 - "$WORK/sc/raw.txt" "$RES/$S/syscalls.json" <<'PY'
import json, statistics, sys
raw = {}
for line in open(sys.argv[1]):
    cfg, op, ns = line.split()
    raw.setdefault(cfg, {}).setdefault(op, []).append(float(ns))
med = {c: {op: statistics.median(v) for op, v in ops.items()} for c, ops in raw.items()}
best = {c: {op: min(v) for op, v in ops.items()} for c, ops in raw.items()}
json.dump({"ops": list(raw["host"]), "median_ns": med, "min_ns": best, "raw_ns": raw},
          open(sys.argv[2], "w"), indent=1)
PY
[ "$OWN_WORK" = 1 ] && python3 "$BENCH/report.py" --overhead "$RES"
exit 0
