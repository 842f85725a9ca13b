#!/bin/sh
# The runtime's own cost.
#
# 1. Peak RSS (`/usr/bin/time -f %M`, KiB; median of REPS runs) of the
#    process that sets an instance up: mult run (to exit), mult run -d,
#    mult exec, mult-oci run, crun run, runc run. %M is the largest
#    resident set among the process and the children it waited for (for
#    mult, the instance's init and command, both far smaller than mult).
# 2. The smallest memory limit under which `mult run --memory M -- echo ok`
#    still prints ok (TRIALS times in a row, default 3): a binary search over whole pages from 4 MiB down to
#    256 KiB (the kernel counts limits in pages; mult refuses less than one
#    page).
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
REPS=${REPS:-11}
S=footprint
mkdir -p "$RES/$S"
need /usr/bin/time time || { na $S rss "/usr/bin/time (package time) not installed"; exit 0; }
echo "footprint: peak RSS ($REPS runs each), smallest memory limit for echo" >&2

# rss NAME CMD...  (CRUN_NS=1: in crun's namespace; POST: a command run
# after each, not measured)
rss() {
  _n=$1; shift
  _wrap=
  [ "${CRUN_NS:-0}" = 1 ] && _wrap=in_crun_ns
  : >"$WORK/rss-$_n.txt"
  _i=0 _bad=0
  while [ $_i -lt "$REPS" ]; do
    _rc=0
    $_wrap timeout 30 /usr/bin/time -a -o "$WORK/rss-$_n.txt" -f %M sh -c "exec $*" </dev/null >/dev/null 2>"$WORK/rss-$_n.err" || _rc=$?
    [ -z "${POST:-}" ] || sh -c "$POST" >/dev/null 2>&1 || true
    if [ "$_rc" != 0 ]; then
      _bad=$((_bad + 1))
      if [ "$_i" = 0 ]; then
        na $S "rss-$_n" "exit status $_rc: $(tail -n 2 "$WORK/rss-$_n.err" | tr '\n' ' ')"
        return 0
      fi
    fi
    _i=$((_i + 1))
  done
  python3 - "$WORK/rss-$_n.txt" "$RES/$S/rss-$_n.json" "$_bad" <<'PY'
import json, statistics, sys
v = [int(l) for l in open(sys.argv[1]) if l.strip().isdigit()]
json.dump({"median_kib": statistics.median(v), "min_kib": min(v), "max_kib": max(v),
           "samples": v, "failed_runs": int(sys.argv[3])}, open(sys.argv[2], "w"))
PY
  echo "  rss $_n: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median_kib"])' "$RES/$S/rss-$_n.json") KiB" >&2
}

rss mult "$MULT run --rootfs $ROOTFS -- /bin/true"
POST="$MULT rm -f fp-d" rss mult-detach "$MULT run -d --name fp-d --rootfs $ROOTFS -- sleep 100000"
# exec: one idle instance to enter.
$MULT rm -f fp-x >/dev/null 2>&1 || true
$MULT run -d --name fp-x --rootfs "$ROOTFS" -- sleep 100000 </dev/null >/dev/null
rss mult-exec "$MULT exec fp-x -- /bin/true"
$MULT rm -f fp-x >/dev/null
if [ -n "$OCI" ]; then
  rss mult-oci "$OCI --root $WORK/oci-fp run -b $BUNDLE_TRUE fp$$"
  oci_cleanup "$OCI" "$WORK/oci-fp"
else
  na $S rss-mult-oci "build/mult-oci missing or does not answer --version"
fi
if command -v crun >/dev/null; then
  CRUN_NS=1 rss crun "crun --root $WORK/crun-fp run -b $BUNDLE_TRUE fp$$"
else
  na $S rss-crun "crun not installed"
fi
if command -v runc >/dev/null; then
  rss runc "runc --root $WORK/runc-fp run -b $BUNDLE_TRUE fp$$"
else
  na $S rss-runc "runc not installed"
fi

# The smallest limit, in KiB (whole pages), under which echo still runs,
# TRIALS times out of TRIALS (near the boundary it passes only sometimes).
TRIALS=${TRIALS:-3}
echo_once() {
  [ "$($MULT run --rootfs "$ROOTFS" --memory "${1}K" -- echo ok 2>>"$WORK/memlimit.err" </dev/null)" = ok ]
}
echo_ok() {  # echo_ok KIB
  _t=0
  while [ $_t -lt "$TRIALS" ]; do echo_once "$1" || return 1; _t=$((_t + 1)); done
}
LO=256 HI=4096 TRIES=""
if echo_ok $LO; then
  MIN=$LO; TRIES="$LO:ok"
elif ! echo_ok $HI; then
  MIN=; TRIES="$HI:fail"
else
  # Invariant: HI works, LO does not.
  while [ $((HI - LO)) -gt 4 ]; do
    MID=$(( (LO + HI) / 2 / 4 * 4 ))
    if echo_ok $MID; then HI=$MID; TRIES="$TRIES $MID:ok"; else LO=$MID; TRIES="$TRIES $MID:fail"; fi
  done
  MIN=$HI
fi
# Below the boundary: how often one page less still works (of 5).
CONFIRM=""
if [ -n "$MIN" ] && [ "$MIN" -gt 256 ]; then
  for k in $((MIN - 4)) $((MIN - 8)) $((MIN - 16)); do
    _ok=0 _t=0
    while [ $_t -lt 5 ]; do echo_once "$k" && _ok=$((_ok + 1)); _t=$((_t + 1)); done
    CONFIRM="$CONFIRM $k:$_ok/5"
  done
fi
# What mult says below one page.
BELOW=$($MULT run --rootfs "$ROOTFS" --memory 1K -- echo ok 2>&1 </dev/null || true)
python3 - "$RES/$S/memlimit.json" "${MIN:-}" "$TRIES" "$CONFIRM" "$BELOW" "$(getconf PAGESIZE)" <<'PY'
import json, sys
a = sys.argv
json.dump({"min_kib": int(a[2]) if a[2] else None, "tries": a[3].split(), "confirm": a[4].split(),
           "below_one_page": a[5].strip(), "page_size": int(a[6])}, open(a[1], "w"), indent=1)
PY
echo "  smallest limit for echo: ${MIN:-above 4096} KiB (tries:$TRIES; confirm:$CONFIRM)" >&2
[ "$OWN_WORK" = 1 ] && python3 "$BENCH/report.py" --footprint "$RES"
exit 0
