# Common set-up of the benchmarks; sourced by each bench/*.sh.
#
# Every script works alone (it makes its own work directory and prints its
# table) or under bench/run-all.sh, which exports WORK (one work directory
# for the whole run, so that all figures come from the same binaries, the
# same image and the same bundles) and collects the results in $WORK/results.
#
# What it provides:
#   MULT       "<copy of build/mult> --root $WORK/state"
#   MULT_BIN   that copy (with mult-init beside it)
#   OCI        the copy of build/mult-oci, or empty when it does not answer
#              --version (its rows are then reported n/a)
#   ROOTFS     the busybox image's root file system
#   BUNDLE_TRUE, BUNDLE_SLEEP   OCI bundles on ROOTFS running /bin/true and
#              sleep 100000 (read-only root, no terminal)
#   RES        where results go ($WORK/results)
#   in_crun_ns CMD...   runs CMD where crun accepts this host: a private
#              mount namespace with /sys/fs/cgroup/unified unmounted (crun
#              refuses hybrid cgroup hosts)
#   measure SECTION NAME CMD...   one hyperfine row: probes CMD once (with a
#              timeout), then exports $RES/SECTION/NAME.json, or writes
#              $RES/SECTION/NAME.err with the reason it could not run
set -eu
BENCH=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH")
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-5}

need() {  # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  apt-get install -y -qq "$2" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; } || true
  command -v "$1" >/dev/null 2>&1
}
need hyperfine hyperfine || { echo "hyperfine is required" >&2; exit 1; }
need python3 python3

if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d /tmp/mult-bench.XXXXXX)
  OWN_WORK=1
else
  OWN_WORK=0
fi
export WORK
RES=$WORK/results
mkdir -p "$RES"

# Removes what a run left: instances under every --root in WORK, then the
# containers under every OCI runtime's state directory.
cleanup_runtimes() {
  for root in "$WORK/state" "$WORK/density"; do
    [ -x "$WORK/bin/mult" ] && [ -d "$root" ] || continue
    "$WORK/bin/mult" --root "$root" ls --format json 2>/dev/null |
      python3 -c 'import json,sys; print("\n".join(i["name"] for i in json.load(sys.stdin)))' 2>/dev/null |
      xargs -r -n 100 "$WORK/bin/mult" --root "$root" rm -f >/dev/null 2>&1 || true
  done
  for d in "$WORK"/oci-* "$WORK"/runc-* "$WORK"/crun-*; do
    [ -d "$d" ] || continue
    case ${d##*/} in
      oci-*) [ -x "$WORK/bin/mult-oci" ] && oci_cleanup "$WORK/bin/mult-oci" "$d" ;;
      runc-*) oci_cleanup runc "$d" ;;
      crun-*) oci_cleanup crun "$d" in_crun_ns ;;
    esac
  done
  return 0
}

cleanup_work() {
  [ "$OWN_WORK" = 1 ] || return 0
  cleanup_runtimes
  rm -rf "$WORK"
}

# The binaries are copied once, so that a rebuild in build/ during the run
# does not mix two versions (mult finds mult-init beside itself).
if [ ! -x "$WORK/bin/mult" ]; then
  [ -x "$TOP/build/mult" ] || { cmake -S "$TOP" -B "$TOP/build" -G Ninja >/dev/null && cmake --build "$TOP/build" >/dev/null; }
  mkdir -p "$WORK/bin"
  cp "$TOP/build/mult" "$TOP/build/mult-init" "$WORK/bin/"
  if [ -x "$TOP/build/mult-oci" ] && "$TOP/build/mult-oci" --version >/dev/null 2>&1; then
    cp "$TOP/build/mult-oci" "$WORK/bin/"
  fi
fi
MULT_BIN=$WORK/bin/mult
MULT="$MULT_BIN --root $WORK/state"
OCI=
[ -x "$WORK/bin/mult-oci" ] && OCI=$WORK/bin/mult-oci

# The busybox image, then bundles on it for the OCI runtimes.
ROOTFS=$WORK/state/images/busybox/rootfs
[ -d "$ROOTFS" ] || $MULT run -- /bin/true
BUNDLE_TRUE=$WORK/bundle-true
BUNDLE_SLEEP=$WORK/bundle-sleep
make_bundle() {  # make_bundle DIR ARGS-AS-JSON
  [ -f "$1/config.json" ] && return 0
  mkdir -p "$1"
  if command -v crun >/dev/null; then (cd "$1" && crun spec)
  elif command -v runc >/dev/null; then (cd "$1" && runc spec)
  else (cd "$1" && "$OCI" spec); fi
  python3 - "$1/config.json" "$ROOTFS" "$2" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["root"] = {"path": sys.argv[2], "readonly": True}
spec["process"]["args"] = json.loads(sys.argv[3])
spec["process"]["terminal"] = False
# `crun spec` asks for ambient capabilities with an empty inheritable set,
# which the kernel cannot raise: crun, runc and mult-oci leave them out
# (mult-oci with a warning). Inheritable = ambient runs the same bundle
# quietly everywhere.
caps = spec["process"].get("capabilities", {})
if caps.get("ambient"):
    caps["inheritable"] = list(caps["ambient"])
json.dump(spec, open(sys.argv[1], "w"), indent=1)
PY
}
make_bundle "$BUNDLE_TRUE" '["/bin/true"]'
make_bundle "$BUNDLE_SLEEP" '["sleep", "100000"]'

in_crun_ns() {
  unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh "$@"
}

# measure SECTION NAME CMD...  (CMD is one string for hyperfine -N, or
# several words joined with spaces; with CRUN_NS=1 it runs in crun's namespace)
measure() {
  _sec=$1 _name=$2; shift 2
  mkdir -p "$RES/$_sec"
  rm -f "$RES/$_sec/$_name.json" "$RES/$_sec/$_name.err"
  _wrap=
  [ "${CRUN_NS:-0}" = 1 ] && _wrap=in_crun_ns
  # One probe run, with a timeout, so that a failing or hanging runtime
  # gives a reason instead of a hung benchmark.
  _tries=1
  [ "${ALLOW_FAIL:-0}" = 1 ] && _tries=3
  while :; do
    _rc=0
    $_wrap timeout "${PROBE_TIMEOUT:-30}" sh -c "$*" </dev/null >"$WORK/probe.out" 2>&1 || _rc=$?
    _tries=$((_tries - 1))
    [ "$_rc" != 0 ] && [ "$_tries" -gt 0 ] || break
  done
  if [ "$_rc" != 0 ]; then
    { printf 'exit %s' "$_rc"; [ "$_rc" = 124 ] && printf ' (timed out after %ss)' "${PROBE_TIMEOUT:-30}"
      printf ': '; tail -n 3 "$WORK/probe.out" | tr '\n' ' '; } >"$RES/$_sec/$_name.err"
    echo "  $_sec/$_name: n/a ($(cat "$RES/$_sec/$_name.err"))" >&2
    return 0
  fi
  # ALLOW_FAIL=1: keep going past failed runs; the report takes the median
  # of the runs that succeeded and says how many failed.
  _i=
  [ "${ALLOW_FAIL:-0}" = 1 ] && _i=-i
  # PREPARE: a command hyperfine runs before each run (not timed).
  if ! $_wrap timeout "${HYPERFINE_TIMEOUT:-900}" hyperfine -N $_i --warmup "$WARMUP" --runs "$RUNS" \
      ${PREPARE:+--prepare "$PREPARE"} --export-json "$RES/$_sec/$_name.json" -n "$_name" "$*" </dev/null >"$WORK/hf.out" 2>&1; then
    rm -f "$RES/$_sec/$_name.json"
    { printf 'failed under hyperfine: '; tail -n 3 "$WORK/hf.out" | tr '\n' ' '; } >"$RES/$_sec/$_name.err"
    echo "  $_sec/$_name: n/a ($(cat "$RES/$_sec/$_name.err"))" >&2
    return 0
  fi
  echo "  $_sec/$_name: $(python3 "$BENCH/report.py" --row "$RES" "$_sec" "$_name")" >&2
}

# na SECTION NAME REASON: a row that could not be measured at all.
na() {
  mkdir -p "$RES/$1"
  printf '%s' "$3" >"$RES/$1/$2.err"
  echo "  $1/$2: n/a ($3)" >&2
}

# Removes the containers a failed or timed-out run left under ROOT.
oci_cleanup() {  # oci_cleanup RUNTIME ROOT [WRAP]
  [ -d "$2" ] || return 0
  for d in "$2"/*; do
    [ -d "$d" ] || continue
    ${3:-} timeout 10 "$1" --root "$2" delete -f "${d##*/}" >/dev/null 2>&1 || true
  done
}

# Prints a section's table (medians and ratios) from its results.
table() {  # table SECTION BASE...  (ratios against each BASE row)
  python3 "$BENCH/report.py" --table "$RES" "$@"
}
