#!/bin/sh
# Start-to-exit time of an instance running /bin/true, side by side in one
# run: mult, the kernel's floor (unshare with the same namespaces), crun,
# runc and bubblewrap where installed, and plain /bin/true. Medians and
# ratios; this machine is shared and noisy, single times mean little.
#
# crun refuses hybrid cgroup hosts; it is measured in a private mount
# namespace where /sys/fs/cgroup/unified is unmounted, as its own docs ask.
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-200}
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null; }
[ -x build/mult ] || { cmake -B build -G Ninja >/dev/null && cmake --build build; }
MULT=$(pwd)/build/mult
WORK=$(mktemp -d /tmp/mult-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# The busybox image, then a bundle on it for the OCI runtimes.
"$MULT" --root "$WORK/state" run -- /bin/true
ROOTFS="$WORK/state/images/busybox/rootfs"
mkdir -p "$WORK/bundle"
(cd "$WORK/bundle" && crun spec)
python3 - "$WORK/bundle/config.json" "$ROOTFS" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["root"] = {"path": sys.argv[2], "readonly": True}
spec["process"]["args"] = ["/bin/true"]
spec["process"]["terminal"] = False
json.dump(spec, open(sys.argv[1], "w"))
PY

set -- --warmup 10 --runs "$RUNS" -N --export-json
hyperfine "$@" "$WORK/host.json" \
  -n mult "$MULT --root $WORK/state run --rootfs $ROOTFS -- /bin/true" \
  -n unshare-floor "unshare -pfmuinC --fork /bin/true" \
  -n true "/bin/true" >/dev/null
# bwrap and runc measured separately so a missing one does not break the run.
if command -v bwrap >/dev/null; then
  hyperfine "$@" "$WORK/bwrap.json" -n bwrap \
    "bwrap --unshare-all --bind $ROOTFS / --proc /proc --dev /dev /bin/true" >/dev/null 2>&1 || true
fi
if command -v runc >/dev/null; then
  hyperfine "$@" "$WORK/runc.json" -n runc \
    "runc --root $WORK/runc run -b $WORK/bundle bench-runc" >/dev/null 2>&1 || true
fi
if command -v crun >/dev/null; then
  unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; \
    hyperfine $* $WORK/crun.json -n crun 'crun --root $WORK/crun run -b $WORK/bundle bench-crun'" \
    >/dev/null 2>&1 || true
fi

python3 - "$WORK" <<'PY'
import json, os, sys
work = sys.argv[1]
rows = {}
for f in ("host", "bwrap", "runc", "crun"):
    p = os.path.join(work, f + ".json")
    if not os.path.exists(p):
        continue
    for r in json.load(open(p))["results"]:
        if r.get("exit_codes") and any(r["exit_codes"]):
            continue
        rows[r["command"]] = r["median"] * 1000
floor = rows.get("unshare-floor")
crun = rows.get("crun")
print(f"{'command':<15} {'median ms':>10} {'x floor':>8} {'x crun':>8}")
for name in ("mult", "unshare-floor", "crun", "runc", "bwrap", "true"):
    if name not in rows:
        print(f"{name:<15} {'n/a':>10}")
        continue
    m = rows[name]
    f = f"{m/floor:8.2f}" if floor else f"{'':>8}"
    c = f"{m/crun:8.2f}" if crun else f"{'':>8}"
    print(f"{name:<15} {m:10.2f} {f} {c}")
PY
