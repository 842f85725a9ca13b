#!/bin/sh
# The OCI life cycle as a container engine drives it: create, start, wait
# (poll `state` until "stopped"), delete; the same busybox bundle running
# /bin/true, for mult-oci, crun and runc. One small shell script per
# iteration, a unique container id each time (the script's PID); every
# runtime call has a timeout so that a hang is reported, not waited for.
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S=cycle
echo "OCI cycle create/start/wait/delete ($RUNS runs each)" >&2

cat >"$WORK/cycle.sh" <<'EOF'
#!/bin/sh
# cycle.sh RUNTIME STATE-ROOT BUNDLE
set -e
rt() { timeout 10 "$RT" --root "$ROOT" "$@"; }
RT=$1 ROOT=$2 B=$3
id=cyc$$
# A failed step still removes the container (then fails the iteration).
trap '[ -z "$id" ] || rt delete -f "$id" >/dev/null 2>&1 || true' EXIT
rt create -b "$B" "$id" </dev/null >/dev/null
rt start "$id"
n=0
until rt state "$id" | grep -q '"status": *"stopped"'; do
  n=$((n + 1))
  [ "$n" -lt 2000 ] || { echo "$id never stopped" >&2; exit 3; }
done
rt delete "$id"
id=
EOF

if [ -n "$OCI" ]; then
  # mult-oci's start fails now and then ("its process exited before
  # start"): its failed runs are counted, not timed.
  ALLOW_FAIL=1 measure $S mult-oci "sh $WORK/cycle.sh $OCI $WORK/oci-cycle $BUNDLE_TRUE"
else
  na $S mult-oci "build/mult-oci missing or does not answer --version"
fi
if command -v crun >/dev/null; then
  CRUN_NS=1 measure $S crun "sh $WORK/cycle.sh $(command -v crun) $WORK/crun-cycle $BUNDLE_TRUE"
else
  na $S crun "crun not installed"
fi
if command -v runc >/dev/null; then
  measure $S runc "sh $WORK/cycle.sh $(command -v runc) $WORK/runc-cycle $BUNDLE_TRUE"
else
  na $S runc "runc not installed"
fi

# Whatever a failed or timed-out iteration left behind.
[ -n "$OCI" ] && oci_cleanup "$OCI" "$WORK/oci-cycle"
command -v runc >/dev/null && oci_cleanup runc "$WORK/runc-cycle"
command -v crun >/dev/null && oci_cleanup crun "$WORK/crun-cycle" in_crun_ns

table $S mult-oci,crun,runc crun
