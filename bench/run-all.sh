#!/bin/sh
# The whole benchmark suite in one run, then docs/performance.md (tables,
# targets met or not) and docs/start-time.png (medians, gnuplot).
#
#   bench/run-all.sh
#
# Environment: RUNS (hyperfine runs per row, default 100), WARMUP (5),
# DENSITY (instances for the density test, default 1000), RM_BATCH (names
# per `mult rm -f`, 100), ROUNDS and ITER (syscall benchmark), REPS (peak
# RSS samples), KEEP=1 (keep the work directory under /tmp), TMPFS=0 (work
# directory on /tmp's file system instead of a tmpfs), SKIP (sections
# to leave out, e.g. SKIP="density profile network"), NICE (priority of the
# benchmarks, default -10).
#
# Installs what it needs with apt-get: hyperfine, gnuplot-nox, crun, runc,
# bubblewrap, time, strace, gcc, linux-perf.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
export RUNS=${RUNS:-100} WARMUP=${WARMUP:-5} DENSITY=${DENSITY:-1000} RM_BATCH=${RM_BATCH:-100}
SKIP=${SKIP:-}
# The host may be shared: the benchmarks run at a higher priority (NICE,
# default -10 as root) so that other load disturbs them less.
NICE=${NICE:--10}
[ "$(id -u)" = 0 ] || NICE=0

missing=
for p in hyperfine:hyperfine gnuplot:gnuplot-nox crun:crun runc:runc bwrap:bubblewrap \
         /usr/bin/time:time strace:strace gcc:gcc nsenter:util-linux perf:linux-perf; do
  command -v "${p%%:*}" >/dev/null 2>&1 || missing="$missing ${p#*:}"
done
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null; } || true
fi

WORK=$(mktemp -d /tmp/mult-bench.XXXXXX)
export WORK
# Every runtime's state (and the image and bundles) on a tmpfs, as /run is
# on a usual host: here /tmp and /run are ext4 without a journal, whose inode
# allocator scans past every inode freed in the last 5 s, so a loop of
# create-and-delete slows down with its own churn (perf: find_inode_bit,
# recently_deleted). TMPFS=0 keeps the work directory on /tmp's file system.
WORK_TMPFS=0
if [ "${TMPFS:-1}" = 1 ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4g,mode=0755 mult-bench "$WORK"; then
  WORK_TMPFS=1
fi
export WORK_TMPFS
RES=$WORK/results
mkdir -p "$RES"
finish() {
  # Instances and containers a failed section left behind, then the files.
  [ -x "$WORK/bin/mult" ] && sh bench/cleanup.sh || true
  kept=
  if [ "${KEEP:-0}" = 1 ]; then
    kept=$WORK
    # A tmpfs goes with its mount: its files are copied out first.
    [ "$WORK_TMPFS" = 1 ] && kept=$WORK.kept && cp -a "$WORK/." "$kept/"
    echo "kept $kept" >&2
  fi
  [ "$WORK_TMPFS" = 1 ] && umount "$WORK"
  [ "$kept" = "$WORK" ] || rm -rf "$WORK"
}
trap finish EXIT
trap 'exit 130' INT TERM

# The binaries, image and bundles, once for all sections.
sh bench/lib.sh
python3 - "$RES/host.json" <<PY
import json, os, platform, subprocess, sys, time
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
mem = [int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")][0]
cg = ("v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else
      "hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "v1")
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "kernel": platform.release(), "cpu": cpu[0] if cpu else "?", "cores": os.cpu_count(),
    "mem_total_mib": mem // 1024, "cgroups": cg,
    "load_start": " ".join(open("/proc/loadavg").read().split()[0:3]),
    "commit": sh("git -C $TOP rev-parse --short HEAD"), "dirty": bool(sh("git -C $TOP status --porcelain -- src CMakeLists.txt")),
    "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime("$TOP/build/mult"))),
    "mult_oci": sh("$WORK/bin/mult-oci --version 2>/dev/null | head -n 1") or "not available (build/mult-oci missing or no --version)",
    "crun_version": sh("crun --version | head -n 1").replace("crun version ", ""),
    "versions": "; ".join(x for x in (sh("runc --version | head -n 1"), sh("bwrap --version"),
                                      sh("hyperfine --version"), sh("unshare --version")) if x),
    "mult_libs": [l.split()[0] for l in sh("ldd $WORK/bin/mult").splitlines() if "=>" in l],
    "fs_state": sh("findmnt -no FSTYPE,OPTIONS -T $WORK"), "fs_run": sh("findmnt -no TARGET,FSTYPE,OPTIONS -T /run"),
    "nice": int("$NICE"), "runs": int("$RUNS"), "warmup": int("$WARMUP"), "density": int("$DENSITY"), "rm_batch": int("$RM_BATCH"),
}, open(sys.argv[1], "w"), indent=1)
PY

section() {
  case " $SKIP " in *" $1 "*) echo "== $1: skipped" >&2; return 0 ;; esac
  echo "== $1" >&2
  nice -n "$NICE" sh "bench/$2" || echo "   ($1 failed with status $?)" >&2
}
section start start-time.sh
section cycle oci-cycle.sh
section exec exec.sh
section density density.sh
section overhead overhead.sh
section footprint footprint.sh
section profile profile.sh
# Benchmarks of single features that share lib.sh (their own README lines).
[ -f bench/limits.sh ] && section limits limits.sh
[ -f bench/seccomp.sh ] && section seccomp seccomp.sh
[ -f bench/network.sh ] && section network network.sh

python3 - "$RES/host.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
h["load_end"] = " ".join(open("/proc/loadavg").read().split()[0:3])
json.dump(h, open(sys.argv[1], "w"), indent=1)
PY
mkdir -p docs
python3 bench/report.py --report "$RES" docs/performance.md docs/start-time.png
echo "== targets" >&2
python3 bench/report.py --targets "$RES"
echo "wrote docs/performance.md and docs/start-time.png" >&2
