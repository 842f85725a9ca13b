#!/bin/sh
# Where mult's time goes, for docs/performance.md ("Where the time goes"):
#
# 1. ablations (hyperfine): `mult --version` (process start alone), mult
#    run by default, with --seccomp unconfined, --privileged, --net host;
#    and a C program that only returns, against glibc and against musl
#    (what the C library's start costs on this host);
# 2. two kernel operations mult avoids, timed alone: moving a process into
#    a cgroup v2 by writing cgroup.procs (crun's exec moves itself so; mult
#    clones into the cgroup), and writing an already enabled controller to
#    cgroup.subtree_control (mult reads the file and writes only what is
#    missing);
# 3. the kernel memory of an idle instance with and without its network
#    namespace, and the system calls of a batched `mult rm -f`;
# 4. off-CPU: where mult and mult-init block during `mult run`, and on-CPU:
#    where their CPU time goes (perf);
# 5. strace -f -T of PROFILE_RUNS runs of `mult run` and of `mult exec`:
#    per syscall, the median time per run spent in it (top ones), and the
#    slowest single calls.
# strace slows everything and this host is shared: read the ranks and the
# ratios, not the absolute numbers.
. "$(dirname "$0")/lib.sh"
[ "$OWN_WORK" = 1 ] && trap cleanup_work EXIT
S=profile
PROFILE_RUNS=${PROFILE_RUNS:-15}
mkdir -p "$RES/$S"
need strace strace || { na $S strace "strace not installed"; exit 0; }
echo "profile: ablations, cgroup writes, strace of mult run and mult exec" >&2

RUNS=$(( RUNS / 2 > 20 ? RUNS / 2 : 20 ))
measure $S version "$MULT_BIN --version"
# The C library's own start: a program that only returns, linked against
# glibc (as mult, crun and the busybox command are) and against musl (as
# mult-init is).
need gcc gcc && need musl-gcc musl-tools || true
mkdir -p "$WORK/libc"
echo 'int main(void) { return 0; }' >"$WORK/libc/empty.c"
gcc -O2 -o "$WORK/libc/glibc-dynamic" "$WORK/libc/empty.c" 2>/dev/null &&
  measure $S libc-glibc-dynamic "$WORK/libc/glibc-dynamic"
gcc -O2 -static -o "$WORK/libc/glibc-static" "$WORK/libc/empty.c" 2>/dev/null &&
  measure $S libc-glibc-static "$WORK/libc/glibc-static"
musl-gcc -O2 -static -o "$WORK/libc/musl-static" "$WORK/libc/empty.c" 2>/dev/null &&
  measure $S libc-musl-static "$WORK/libc/musl-static"
measure $S run-default "$MULT run --rootfs $ROOTFS -- /bin/true"
measure $S run-unconfined "$MULT run --rootfs $ROOTFS --seccomp unconfined -- /bin/true"
measure $S run-privileged "$MULT run --rootfs $ROOTFS --privileged -- /bin/true"
measure $S run-net-host "$MULT run --rootfs $ROOTFS --net host -- /bin/true"

# A cgroup of our own on the v2 tree (mult's own place on hybrid hosts).
V2=/sys/fs/cgroup/unified
[ -f /sys/fs/cgroup/cgroup.procs ] && V2=/sys/fs/cgroup
CG=$V2/mult-bench-$$
if mkdir "$CG" 2>/dev/null; then
  # Each after 50 ms without cgroup writes: back to back, the kernel's
  # rcu_sync stays in its slow-writer state and the write looks free.
  measure $S cg-move "sh -c 'sleep 0.05; echo \$\$ > $CG/cgroup.procs'"
  measure $S cg-nomove "sh -c 'sleep 0.05; echo \$\$ > /dev/null'"
  SUB=$(cut -d' ' -f1 "$V2/cgroup.subtree_control")
  if [ -n "$SUB" ]; then
    measure $S subtree-noop "sh -c 'sleep 0.05; echo +$SUB > $V2/cgroup.subtree_control'"
  fi
  rmdir "$CG" 2>/dev/null || true
fi

# strace: mult run, then mult exec into an idle instance.
i=0
while [ $i -lt "$PROFILE_RUNS" ]; do
  strace -f -T -o "$WORK/st-run.$i" $MULT run --rootfs "$ROOTFS" -- /bin/true >/dev/null 2>&1 || true
  i=$((i + 1))
done
$MULT rm -f prof-x >/dev/null 2>&1 || true
$MULT run -d --name prof-x --rootfs "$ROOTFS" -- sleep 100000 </dev/null >/dev/null
i=0
while [ $i -lt "$PROFILE_RUNS" ]; do
  strace -f -T -o "$WORK/st-exec.$i" $MULT exec prof-x -- /bin/true >/dev/null 2>&1 || true
  i=$((i + 1))
done
$MULT rm -f prof-x >/dev/null

# What an idle instance costs the kernel: as the density benchmark makes it,
# without its own network namespace (--net host), and without mult-init
# (--init /bin/sleep: sleep is PID 1, the instance has one process):
# PROFILE_DENSITY instances each way, Slab, KernelStack and PageTables
# growth per instance; then strace of one batched `mult rm -f`.
PD=${PROFILE_DENSITY:-200}
PB=$(( PD / 4 > 0 ? PD / 4 : 1 ))
: >"$WORK/pd-deltas.txt"
b=0
while [ $b -lt 4 ]; do  # four batches each way, interleaved: other load hits both alike
  for mode in default net-host no-init; do
    opt= cmd=sleep
    [ $mode = net-host ] && opt="--net host"
    [ $mode = no-init ] && opt="--init /bin/sleep" cmd=
    python3 "$BENCH/procmem.py" meminfo >"$WORK/pd-0.json"
    i=0
    while [ $i -lt "$PB" ]; do
      # shellcheck disable=SC2086
      $MULT run -d --name "pd-$mode-$b-$i" $opt --rootfs "$ROOTFS" -- $cmd 100000 </dev/null >/dev/null || true
      i=$((i + 1))
    done
    sleep 1
    python3 "$BENCH/procmem.py" meminfo >"$WORK/pd-1.json"
    python3 - "$WORK/pd-0.json" "$WORK/pd-1.json" "$mode" "$PB" >>"$WORK/pd-deltas.txt" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(sys.argv[3], " ".join(f"{k}={(b[k] - a[k]) / int(sys.argv[4])}" for k in ("Slab", "SUnreclaim", "KernelStack", "PageTables")))
PY
  done
  b=$((b + 1))
done
names=$($MULT ls --format json | python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(sys.stdin) if i["name"].startswith("pd-")))')
# shellcheck disable=SC2086
strace -f -c -o "$WORK/rm-strace.txt" $MULT rm -f $names >/dev/null 2>&1 || true
python3 - "$WORK" "$PD" "$RES/$S/netns.json" <<'PY'
import json, statistics, sys
w, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for line in open(f"{w}/pd-deltas.txt"):
    mode, *kv = line.split()
    rows.setdefault(mode, []).append({k: float(v) for k, v in (x.split("=") for x in kv)})
res = {"n": n, "batches": {m: len(r) for m, r in rows.items()}}
for mode, rs in rows.items():
    res[mode] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
calls = []
for line in open(f"{w}/rm-strace.txt"):
    f = line.split()
    if len(f) >= 5 and f[3].isdigit() and not line.startswith(("%", "-")) and f[-1] != "total":
        calls.append((f[-1], int(f[3])))
calls.sort(key=lambda c: -c[1])
# The batched rm removed every kind: n instances of each.
made = n * len(rows)
res["rm_calls_per_instance"] = [(c, round(k / made, 1)) for c, k in calls[:12]]
res["rm_calls_total_per_instance"] = round(sum(k for _, k in calls) / made, 1)
json.dump(res, open(out, "w"), indent=1)
PY

# Where mult blocks: `perf record -a -e sched:sched_switch -g` over
# PROFILE_RUNS runs of `mult run`; for every time a mult or mult-init
# thread leaves the CPU, the kernel function it blocked in and how long
# until it ran again.
if command -v perf >/dev/null && perf record -q -o "$WORK/sw.data" -a -e sched:sched_switch -g -- \
     sh -c "i=0; while [ \$i -lt $PROFILE_RUNS ]; do $MULT run --rootfs $ROOTFS -- /bin/true; i=\$((i + 1)); done" \
     >/dev/null 2>&1; then
  perf script -i "$WORK/sw.data" -F comm,tid,time,event,trace,ip,sym 2>/dev/null >"$WORK/sw.txt" || true
  python3 - "$WORK/sw.txt" "$PROFILE_RUNS" "$RES/$S/offcpu.json" <<'PY'
import collections, json, re, statistics, sys
path, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
KEYS = ("synchronize_rcu_expedited", "synchronize_rcu", "blkdev_issue_discard", "copy_net_ns",
        "cleanup_net", "do_wait", "do_sigtimedwait.isra.0", "__unix_dgram_recvmsg", "unix_stream_read_generic",
        "anon_pipe_read", "pipe_read", "rtnl_newlink", "percpu_down_write", "cgroup_lock_and_drain_offline",
        "flock_lock_inode_wait", "locks_lock_inode_wait")
WHAT = {"__unix_dgram_recvmsg": "mult waits for the instance (socket)",
        "do_sigtimedwait.isra.0": "mult-init waits for its command",
        "do_wait": "waits for a child to exit",
        "blkdev_issue_discard": "ext4 discard while removing state files",
        "synchronize_rcu_expedited": "RCU grace period (umount)",
        "copy_net_ns": "creating the network namespace"}
pending, dur = {}, collections.defaultdict(list)
for ev in open(path).read().split("\n\n"):
    lines = ev.strip().split("\n")
    if not lines or "sched_switch" not in lines[0]:
        continue
    h = lines[0]
    t = re.search(r"\s(\d+\.\d+):", h)
    m = re.search(r"prev_comm=(\S+) prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(\S+) next_pid=(\d+)", h)
    if not t or not m:
        continue
    t = float(t.group(1))
    pc, pp, st, _, np_ = m.groups()
    if np_ in pending:
        t0, key = pending.pop(np_)
        dur[key].append((t - t0) * 1000)
    if pc not in ("mult", "mult-init"):
        continue
    if st.startswith("R"):
        pending[pp] = (t, (pc, "preempted: waiting for a CPU"))
        continue
    frames = [l.split()[1] for l in lines[1:] if len(l.split()) > 1]
    f = next((f for f in frames if f in KEYS),
             next((f for f in frames if not re.match(r"(__schedule|schedule\w*|io_schedule\w*)$", f)), "?"))
    pending[pp] = (t, (pc, f))
rows = [{"comm": c, "where": f, "what": WHAT.get(f, ""), "count": len(v), "median_ms": statistics.median(v),
         "max_ms": max(v), "per_run_ms": sum(v) / runs} for (c, f), v in dur.items()]
rows.sort(key=lambda r: -r["per_run_ms"])
json.dump({"runs": runs, "rows": rows[:14]}, open(out, "w"), indent=1)
PY
fi

# Where mult's CPU time goes: `perf record -F 4999 -g` over PROFILE_RUNS
# runs of `mult run` (all its processes), by process and object, and the
# system calls that took most kernel time in the mult processes.
if command -v perf >/dev/null && perf record -q -o "$WORK/cpu.data" -F 4999 -g -- \
     sh -c "i=0; while [ \$i -lt $PROFILE_RUNS ]; do $MULT run --rootfs $ROOTFS -- /bin/true; i=\$((i + 1)); done" \
     >/dev/null 2>&1; then
  perf report -i "$WORK/cpu.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null >"$WORK/cpu-dso.txt" || true
  perf report -i "$WORK/cpu.data" --children --comm mult --sort sym --stdio -g none 2>/dev/null >"$WORK/cpu-sys.txt" || true
  perf report -i "$WORK/cpu.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null >"$WORK/cpu-sym.txt" || true
  python3 - "$WORK" "$PROFILE_RUNS" "$RES/$S/cpu.json" <<'PY'
import json, re, sys
w, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# glibc's cache-size probing at process start (cpuid leaf 2/4: a VM exit each)
CACHEINFO = ("intel_check_word", "handle_intel", "get_common_indices", "get_common_cache_info",
             "update_active", "init_cacheinfo", "dl_init_cacheinfo")
def samples(path):
    for line in open(path):
        m = re.match(r"# Samples: (\d+)", line)
        if m:
            return int(m.group(1))
    return 0
n = samples(f"{w}/cpu-dso.txt")
ms_total = n / 4999 * 1000 / runs  # sampled CPU ms per run
dso = []
for line in open(f"{w}/cpu-dso.txt"):
    m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+(.+?)\s*$", line)
    if m:
        dso.append((m.group(2), m.group(3), float(m.group(1))))
sysc = []
for line in open(f"{w}/cpu-sys.txt"):
    m = re.match(r"\s+([\d.]+)%\s+[\d.]+%\s+\[k\] (__x64_sys_\w+|__do_sys_\w+|ksys_\w+|__se_sys_\w+)", line)
    if m:
        sysc.append((m.group(2), float(m.group(1))))
sym = []
for line in open(f"{w}/cpu-sym.txt"):
    m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\] (\S+)", line)
    if m:
        sym.append((m.group(2), m.group(3), m.group(5), float(m.group(1))))
json.dump({"runs": runs, "cpu_ms_per_run": ms_total, "by_dso": dso[:12], "syscalls": sysc[:10],
           "symbols": sym[:14],
           "cacheinfo_pct": sum(p for _, _, f, p in sym if f.split(".")[0] in CACHEINFO)}, open(out, "w"), indent=1)
PY
fi

# Where mult's resident set is: its mappings while it waits for an
# instance (`mult run -- sleep 2`), RSS per mapped file.
$MULT run --rootfs "$ROOTFS" -- sleep 2 </dev/null >/dev/null 2>&1 &
sleep 1
MP=$(pgrep -f "^$MULT run --rootfs $ROOTFS -- sleep 2\$" | head -n 1 || true)
if [ -n "$MP" ]; then
  python3 - "$MP" "$RES/$S/rss-map.json" <<'PY'
import json, re, sys
pid, out = sys.argv[1], sys.argv[2]
cur, agg, roll = None, {}, {}
for line in open(f"/proc/{pid}/smaps"):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        parts = line.split()
        cur = parts[5] if len(parts) > 5 else "[anon]"
    elif line.startswith("Rss:"):
        agg[cur] = agg.get(cur, 0) + int(line.split()[1])
for line in open(f"/proc/{pid}/smaps_rollup"):
    k, _, v = line.partition(":")
    if k in ("Rss", "Pss", "Anonymous", "Pss_File", "Pss_Anon"):
        roll[k] = int(v.split()[0])
json.dump({"rollup": roll, "by_mapping": sorted(agg.items(), key=lambda kv: -kv[1])}, open(out, "w"), indent=1)
PY
fi
wait

python3 - "$WORK" "$RES/$S/strace.json" "$PROFILE_RUNS" <<'PY'
import glob, json, re, statistics, sys
work, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
# Calls that only wait for another process are not work of their own.
WAITS = {"wait4", "waitid", "recvfrom", "recvmsg", "read", "rt_sigtimedwait", "epoll_wait",
         "poll", "ppoll", "pselect6", "flock", "exit_group", "restart_syscall"}
call = re.compile(r'^(\d+)\s+(?:<\.\.\. )?(\w+)(?:\(| resumed>)(.*?)<([\d.]+)>$')
result = {}
for kind in ("run", "exec"):
    per_run, slow = [], []
    for path in sorted(glob.glob(f"{work}/st-{kind}.*")):
        tot = {}
        for line in open(path):
            m = call.match(line.strip())
            if not m:
                continue
            name, args, dur = m.group(2), m.group(3), float(m.group(4)) * 1000
            if name in WAITS:
                continue
            key = name
            if name == "write":
                f = re.search(r'"(\+\w+|\d+)"', args)
                if f and f.group(1).startswith("+"):
                    key = "write(cgroup.subtree_control)"
                elif f and f.group(1).isdigit():
                    key = "write(cgroup.procs)"
            tot[key] = tot.get(key, 0) + dur
            slow.append((dur, key, line.split(None, 1)[1][:90].strip()))
        per_run.append(tot)
    keys = {k for t in per_run for k in t}
    med = {k: statistics.median(t.get(k, 0) for t in per_run) for k in keys}
    worst = {}
    for d, k, _ in slow:
        worst[k] = max(worst.get(k, 0), d)
    top = sorted(med.items(), key=lambda kv: -kv[1])[:10]
    slow.sort(reverse=True)
    result[kind] = {"runs": len(per_run), "median_ms_per_run": top, "all_median_ms_per_run": med, "max_ms": worst,
                    "slowest": [(round(d, 2), k, l) for d, k, l in slow[:6]]}
json.dump(result, open(out, "w"), indent=1)
PY
[ "$OWN_WORK" = 1 ] && python3 "$BENCH/report.py" --profile "$RES"
exit 0
