#!/bin/sh
# Entering a running instance: /bin/true run inside an idle one (sleep
# 100000) by `mult exec`, `mult-oci exec`, `runc exec`, `crun exec`, and the
# kernel's floor, `nsenter -t PID -a` (namespaces only: no cgroup, no
# capabilities, no seccomp, no no_new_privs).
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S="exec"
echo "exec /bin/true in a running instance ($RUNS runs each)" >&2

NAME=bench-exec
$MULT rm -f $NAME >/dev/null 2>&1 || true
$MULT run -d --name $NAME --rootfs "$ROOTFS" -- sleep 100000 </dev/null >/dev/null
PID=$($MULT inspect $NAME | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtime"]["pid"])')
measure $S mult "$MULT exec $NAME -- /bin/true"
measure $S nsenter "nsenter -t $PID -a /bin/true"
$MULT rm -f $NAME >/dev/null

if [ -n "$OCI" ]; then
  # (run -d fails now and then: up to three tries)
  if timeout 20 "$OCI" --root "$WORK/oci-exec" run -d -b "$BUNDLE_SLEEP" ex$$ </dev/null >"$WORK/oci-exec.out" 2>&1 ||
     { oci_cleanup "$OCI" "$WORK/oci-exec"; timeout 20 "$OCI" --root "$WORK/oci-exec" run -d -b "$BUNDLE_SLEEP" ex$$ </dev/null >"$WORK/oci-exec.out" 2>&1; } ||
     { oci_cleanup "$OCI" "$WORK/oci-exec"; timeout 20 "$OCI" --root "$WORK/oci-exec" run -d -b "$BUNDLE_SLEEP" ex$$ </dev/null >"$WORK/oci-exec.out" 2>&1; }; then
    measure $S mult-oci "$OCI --root $WORK/oci-exec exec ex$$ /bin/true"
  else
    na $S mult-oci "mult-oci run -d failed: $(tail -n 2 "$WORK/oci-exec.out" | tr '\n' ' ')"
  fi
  oci_cleanup "$OCI" "$WORK/oci-exec"
else
  na $S mult-oci "build/mult-oci missing or does not answer --version"
fi

if command -v runc >/dev/null; then
  timeout 20 runc --root "$WORK/runc-exec" run -d -b "$BUNDLE_SLEEP" ex$$ </dev/null >/dev/null 2>&1 &&
    measure $S runc "runc --root $WORK/runc-exec exec ex$$ /bin/true" ||
    na $S runc "runc run -d failed"
  oci_cleanup runc "$WORK/runc-exec"
else
  na $S runc "runc not installed"
fi

if command -v crun >/dev/null; then
  # Started, measured and deleted in one private mount namespace.
  cat >"$WORK/crun-exec.sh" <<EOF
set -e
crun --root $WORK/crun-exec run -d -b $BUNDLE_SLEEP ex$$ </dev/null >/dev/null 2>&1
EOF
  if in_crun_ns timeout 20 sh "$WORK/crun-exec.sh"; then
    CRUN_NS=1 measure $S crun "crun --root $WORK/crun-exec exec ex$$ /bin/true"
  else
    na $S crun "crun run -d failed"
  fi
  oci_cleanup crun "$WORK/crun-exec" in_crun_ns
else
  na $S crun "crun not installed"
fi

table $S mult,mult-oci,crun,runc,nsenter crun nsenter
