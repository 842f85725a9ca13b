#!/usr/bin/env python3
"""Tables and docs/performance.md from the results of one benchmark run.

  report.py --table RES SECTION ORDER [BASE...]   one hyperfine section
  report.py --density RES | --overhead RES | --footprint RES
  report.py --report RES OUT.md PLOT.png          everything, with the plot

RES is $WORK/results: one directory per section, NAME.json (hyperfine's
export, or the section's own figures) or NAME.err (why NAME was not
measured)."""
import json
import os
import statistics
import subprocess
import sys

# ---------------------------------------------------------------- reading


def load(res, sec, name):
    """(value, error): hyperfine result dict or the section's JSON, or the
    reason it is missing."""
    base = os.path.join(res, sec, name)
    if os.path.exists(base + ".json"):
        d = json.load(open(base + ".json"))
        if "results" in d:
            return ok_runs(d["results"][0])
        return d, None
    if os.path.exists(base + ".err"):
        return None, open(base + ".err").read().strip()
    return None, "not measured"


def ok_runs(r):
    """A hyperfine result restricted to the runs that exited 0 (runs with
    ALLOW_FAIL may have failed); r["failed"] counts the others."""
    codes = r.get("exit_codes") or []
    bad = sum(1 for c in codes if c)
    r["failed"] = bad
    if not bad:
        return r, None
    times = [t for t, c in zip(r["times"], codes) if not c]
    if not times:
        return None, f"all {len(codes)} runs failed"
    r = dict(r, times=times, median=statistics.median(times), mean=statistics.mean(times),
             stddev=statistics.stdev(times) if len(times) > 1 else 0, min=min(times), failed=bad)
    return r, None


def median_ms(res, sec, name):
    r, err = load(res, sec, name)
    return (r["median"] * 1000 if r else None), err


def fmt(v, spec=".2f", na="n/a"):
    return na if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------- tables


def timing_rows(res, sec, order, bases):
    rows = []
    base_v = {b: median_ms(res, sec, b)[0] for b in bases}
    for name in order:
        r, err = load(res, sec, name)
        m = r["median"] * 1000 if r else None
        rows.append({
            "name": name, "median": m,
            "mean": r["mean"] * 1000 if r else None,
            "stddev": (r.get("stddev") or 0) * 1000 if r else None,
            "min": r["min"] * 1000 if r else None,
            "runs": (f"{len(r['times'])}" + (f" (+{r['failed']} failed)" if r.get("failed") else "")) if r else None,
            "cpu": (r["user"] + r["system"]) * 1000 if r else None,
            "ratios": [ratio(m, base_v[b]) for b in bases],
            "err": err,
        })
    return rows


def timing_md(res, sec, order, bases):
    rows = timing_rows(res, sec, order, bases)
    head = "| command | median ms | mean ± σ ms | min ms | CPU ms (user+sys) | runs | " + \
        " | ".join(f"× {b}" for b in bases) + " |"
    out = [head, "|" + "---|" * (6 + len(bases))]
    notes = []
    for r in rows:
        if r["median"] is None:
            out.append(f"| {r['name']} | n/a | | | | | " + " | ".join("" for _ in bases) + " |")
            notes.append(f"- {r['name']}: {r['err']}")
            continue
        out.append(f"| {r['name']} | {r['median']:.2f} | {r['mean']:.2f} ± {r['stddev']:.2f} | "
                   f"{r['min']:.2f} | {r['cpu']:.2f} | {r['runs']} | " +
                   " | ".join(fmt(x) for x in r["ratios"]) + " |")
    return "\n".join(out) + ("\n\nNot measured:\n\n" + "\n".join(notes) if notes else "")


def timing_text(res, sec, order, bases):
    rows = timing_rows(res, sec, order, bases)
    out = [f"{'command':<15} {'median ms':>10} " + " ".join(f"{'x ' + b:>14}" for b in bases)]
    for r in rows:
        if r["median"] is None:
            out.append(f"{r['name']:<15} {'n/a':>10}   ({r['err']})")
        else:
            out.append(f"{r['name']:<15} {r['median']:10.2f} " +
                       " ".join(f"{fmt(x):>14}" for x in r["ratios"]))
    return "\n".join(out)


def accounted(d):
    """(total, kernel) KiB per instance: the processes' Pss, the kernel's
    growth (slab, kernel stacks, page tables, per-CPU) and tmpfs pages."""
    k = d["kernel_per_instance_kib"]
    kern = k["Slab"] + k["KernelStack"] + k["PageTables"] + k.get("Percpu", 0)
    return d["pss_per_instance_kib"] + kern + d.get("shmem_per_instance_kib", 0), kern


DENSITY_ROWS = (("mult", "mult, idle"), ("mult-sleep", "mult, sleep"), ("crun", "crun"))


def density_md(res):
    rows = []
    for name, label in DENSITY_ROWS:
        d, err = load(res, "density", name)
        rows.append((label, d, err))
    out = ["| runtime, instances | N | started | start all s | per start ms | remove all s | "
           "accounted per instance KiB | Pss KiB | kernel KiB (slab + stacks + page tables + per-CPU) | "
           "tmpfs KiB | MemAvailable Δ per instance KiB | slope over the ramp KiB | "
           "not returned after removal MiB (2 s, 10 s) | left behind |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for rt, d, err in rows:
        if d is None:
            out.append(f"| {rt} | n/a | | | | | | | | | | | | |")
            notes.append(f"- {rt}: {err}")
            continue
        k = d["kernel_per_instance_kib"]
        acct, kern = accounted(d)
        left = ", ".join(f"{v} {n}" for n, v in d["left"].items())
        per = d["start_s"] * 1000 / max(d["started"], 1)
        out.append(f"| {rt} | {d['n']} | {d['started']} | {d['start_s']:.2f} | {per:.1f} | "
                   f"{d['rm_s']:.2f} | **{acct:.0f}** | {d['pss_per_instance_kib']:.0f} | "
                   f"{kern:.0f} ({k['Slab']:.0f} + {k['KernelStack']:.0f} + {k['PageTables']:.0f} + "
                   f"{k.get('Percpu', 0):.0f}) | {d.get('shmem_per_instance_kib', 0):.0f} | "
                   f"{d['per_instance_kib']:.0f} | {fmt(d.get('ramp_slope_kib'), '.0f')} | "
                   f"{d['not_returned_kib'] / 1024:.1f}, "
                   f"{fmt(d.get('not_returned_10s_kib', None) and d['not_returned_10s_kib'] / 1024, '.1f')} | "
                   f"{left} |")
        if d.get("start_errors"):
            notes.append(f"- {rt} start errors (last): {' / '.join(d['start_errors'])}")
        if d.get("rm_errors"):
            notes.append(f"- {rt} removal errors (last): {' / '.join(d['rm_errors'])}")
        if d.get("left_examples"):
            notes.append(f"- {rt} left behind, e.g.: {', '.join(d['left_examples'])}")
        if "ls_s" in d:
            notes.append(f"- {rt}: `mult ls` with {d['running']} instances running took {d['ls_s']:.2f} s.")
    return "\n".join(out) + ("\n\n" + "\n".join(notes) if notes else "")


def overhead_md(res):
    d, err = load(res, "overhead", "syscalls")
    if d is None:
        return f"n/a: {err}"
    out = []
    for key, title in (("median_ns", "Median over the rounds (each round: its fastest batch)"),
                       ("min_ns", "Best round")):
        m = d.get(key)
        if not m:
            continue
        cfgs = [c for c in ("host", "mult", "mult-unconfined") if c in m]
        out += [f"{title}, ns per operation:", "",
                "| operation | " + " | ".join(cfgs) + " | mult × host | unconfined × host | seccomp's share ns |",
                "|---|" + "---|" * (len(cfgs) + 3)]
        for op in d["ops"]:
            h = m["host"][op]
            mu, un = m.get("mult", {}).get(op), m.get("mult-unconfined", {}).get(op)
            out.append(f"| {op} | " + " | ".join(f"{m[c][op]:.1f}" for c in cfgs) +
                       f" | {fmt(ratio(mu, h))} | {fmt(ratio(un, h))} | "
                       f"{fmt(mu - un if mu is not None and un is not None else None, '.1f')} |")
        out.append("")
    return "\n".join(out).rstrip()


def footprint_md(res):
    out = ["| process | peak RSS KiB (median) | min–max | runs |", "|---|---|---|---|"]
    notes = []
    for n, label in (("mult", "mult run (to exit)"), ("mult-detach", "mult run -d"),
                     ("mult-exec", "mult exec"), ("mult-oci", "mult-oci run"),
                     ("crun", "crun run"), ("runc", "runc run")):
        d, err = load(res, "footprint", "rss-" + n)
        if d is None:
            out.append(f"| {label} | n/a | | |")
            notes.append(f"- {label}: {err}")
        else:
            out.append(f"| {label} | {d['median_kib']:.0f} | {d['min_kib']}–{d['max_kib']} | "
                       f"{len(d['samples'])} |")
    m, err = load(res, "footprint", "memlimit")
    out.append("")
    if m is None:
        out.append(f"Smallest memory limit: n/a ({err})")
    else:
        v = f"{m['min_kib']} KiB" if m["min_kib"] else "above 4096 KiB"
        out.append(f"Smallest `--memory` under which `echo ok` still runs: **{v}** "
                   f"(binary search over whole {m['page_size'] // 1024} KiB pages, 256 KiB–4 MiB, a limit "
                   f"passing when 3 runs out of 3 print ok; tries: {' '.join(m['tries'])}; "
                   f"just below, runs that still printed ok: {' '.join(m['confirm']) or '-'}).")
        out.append("")
        out.append(f"Below one page mult refuses the limit itself: `{m['below_one_page']}`")
    return "\n".join(out) + ("\n\n" + "\n".join(notes) if notes else "")


def features_md(res):
    """bench/limits.sh, bench/seccomp.sh and bench/network.sh, when they ran."""
    out = []
    if os.path.isdir(os.path.join(res, "limits")):
        out += ["`mult run -- /bin/true` without limits, with `--memory 64M --pids-limit 100 --cpus 1` "
                "(v1 hierarchies here) and with `--hugetlb 2MB:4M` (cgroup v2 alone) (`bench/limits.sh`), "
                "back to back:", "",
                timing_md(res, "limits", ("plain", "limited", "unified"), ("plain",)), ""]
        if os.path.exists(os.path.join(res, "limits", "spaced-plain.json")):
            out += ["Spaced out (`--prepare 'sleep 0.05'`: no warm cgroup lock from the start before):", "",
                    timing_md(res, "limits", ("spaced-plain", "spaced-limited", "spaced-unified"),
                              ("spaced-plain",)), ""]
        p, _ = load(res, "limits", "paired")
        for row, q in sorted(((p or {}).get("paired_diff_ms") or {}).items()):
            if q:
                q = sorted(q)
                out.append(f"- {row} minus plain within a block: median {statistics.median(q):+.2f} ms "
                           f"(range {q[0]:+.2f} .. {q[-1]:+.2f}, {len(q)} blocks)")
        out.append("")
    if os.path.isdir(os.path.join(res, "seccomp")):
        out += ["The default seccomp profile against `--seccomp unconfined` at start, both in one hyperfine "
                "run, repeated in short rounds with the order swapped (`bench/seccomp.sh`):", "",
                timing_md(res, "seccomp", ("default", "unconfined"), ("unconfined",))]
        p, _ = load(res, "seccomp", "paired")
        if p and p.get("paired_diff_ms"):
            q = sorted(p["paired_diff_ms"])
            unit = p.get("unit", "block")
            out += ["", f"Within a {unit}, default minus unconfined: median {statistics.median(q):+.2f} ms "
                    f"(range {q[0]:+.2f} .. {q[-1]:+.2f}, {len(q)} {unit}s)."]
        out.append("")
    if os.path.isdir(os.path.join(res, "netstart")) or os.path.isdir(os.path.join(res, "network")):
        out += ["`--net bridge` against `--net none` at start, and a bridged instance's TCP throughput "
                "and ping against the loopback, all inside a network namespace of the benchmark's own "
                "(`bench/network.sh`):", "",
                timing_md(res, "netstart", ("none", "bridge"), ("none",))]
        d, err = load(res, "network", "figures")
        if d:
            r = lambda a, b: fmt(ratio(a, b))
            out += ["", "| | bridge | loopback | ratio |", "|---|---|---|---|",
                    f"| TCP MiB/s ({d['mib']} MiB, median) | {fmt(d['bridge_mib_s'], '.0f')} | "
                    f"{fmt(d['loopback_mib_s'], '.0f')} | {r(d['bridge_mib_s'], d['loopback_mib_s'])} |",
                    f"| ping, average ms | {fmt(d['bridge_rtt_ms'], '.3f')} | {fmt(d['loopback_rtt_ms'], '.3f')} | "
                    f"{r(d['bridge_rtt_ms'], d['loopback_rtt_ms'])} |"]
        elif err:
            out += ["", f"Throughput and ping: n/a ({err})"]
    return "\n".join(out).strip()


OFFCPU_WHAT = {
    "__unix_dgram_recvmsg": "mult waits for the instance to end (its socket)",
    "do_sigtimedwait.isra.0": "mult-init waits for its command",
    "do_wait": "waits for a child to exit",
    "blkdev_issue_discard": "ext4 discard while state files are removed",
    "synchronize_rcu_expedited": "RCU grace period: the old root's detach after pivot_root, or the mount "
                                 "namespace's teardown when its last process exits",
    "copy_net_ns": "creating the network namespace",
    "rtnl_newlink": "the rtnl lock (loopback set-up)",
}


def profile_md(res):
    out = ["Ablations of `mult run --rootfs R -- /bin/true` (same run, fewer hyperfine runs):", ""]
    out.append(timing_md(res, "profile", ("run-default", "run-unconfined", "run-privileged", "run-net-host",
                                          "version", "libc-glibc-dynamic", "libc-glibc-static",
                                          "libc-musl-static"), ("run-default",)))
    out += ["", "(`libc-*`: a C program that only returns, linked against glibc, dynamically and "
            "statically, and statically against musl: what each C library's start costs here.)"]
    move, _ = median_ms(res, "profile", "cg-move")
    nomove, _ = median_ms(res, "profile", "cg-nomove")
    sub, _ = median_ms(res, "profile", "subtree-noop")
    out += ["", "Two cgroup v2 writes, timed alone (`sh -c 'sleep 0.05; echo $$ > FILE'`: the sleep "
            "lets the kernel leave the state a recent cgroup write leaves it in; medians):", "",
            "| write | median ms | minus writing to /dev/null |", "|---|---|---|"]
    for name, label in (("cg-move", "own PID to a fresh cgroup's `cgroup.procs` (a migration)"),
                        ("subtree-noop", "an already enabled controller to `cgroup.subtree_control`"),
                        ("cg-nomove", "/dev/null (the shell and the sleep alone)")):
        m, err = median_ms(res, "profile", name)
        out.append(f"| {label} | {fmt(m)} | {fmt(m - nomove if m is not None and nomove else None)} |"
                   if m is not None else f"| {label} | n/a ({err}) | |")
    d, err = load(res, "profile", "strace")
    if d:
        for kind, title in (("run", "mult run"), ("exec", "mult exec")):
            k = d[kind]
            out += ["", f"`strace -f -T` of {k['runs']} × `{title}`: time in each system call per run "
                    "(median over the runs; calls that only wait for another process left out), "
                    "and the slowest single calls:", "",
                    "| system call | ms per run |", "|---|---|"]
            out += [f"| {n} | {v:.2f} |" for n, v in k["median_ms_per_run"]]
            out += [""] + [f"- {dur} ms: `{line}`" for dur, _, line in k["slowest"]]
    else:
        out.append(f"\nstrace: n/a ({err})")
    m, err = load(res, "profile", "offcpu")
    if m:
        out += ["", f"Off-CPU time of `mult run` ({m['runs']} runs, `perf record -a -e sched:sched_switch -g`): "
                "each time a mult or mult-init thread left the CPU, where it blocked and how long until it ran "
                "again (mult is the parent and, until it execs mult-init, the instance's first process):", "",
                "| process | blocked in | | times | median ms | max ms | ms per run |", "|---|---|---|---|---|---|---|"]
        for r in m["rows"]:
            what = OFFCPU_WHAT.get(r["where"], r.get("what", ""))
            out.append(f"| {r['comm']} | `{r['where']}` | {what} | {r['count']} | {r['median_ms']:.2f} | "
                       f"{r['max_ms']:.2f} | {r['per_run_ms']:.2f} |")
    m, err = load(res, "profile", "cpu")
    if m:
        tot = m["cpu_ms_per_run"]
        out += ["", f"On-CPU time of `mult run` ({m['runs']} runs, `perf record -F 4999 -g`): "
                f"{tot:.2f} ms sampled per run. By process and object:", "",
                "| process | object | share | ms per run |", "|---|---|---|---|"]
        out += [f"| {c} | {d} | {p:.1f} % | {p * tot / 100:.2f} |" for c, d, p in m["by_dso"][:10]]
        out += ["", "Kernel time of the mult processes by system call (children included): " +
                ", ".join(f"`{n}` {p:.1f} %" for n, p in m["syscalls"][:8]) + ".", "",
                "Hottest functions: " + ", ".join(f"{f} ({c}, {os.path.basename(d)}) {p:.1f} %"
                                                  for c, d, f, p in m["symbols"][:8]) + "."]
    m, err = load(res, "profile", "netns")
    if m:
        out += ["", f"Kernel memory per idle instance ({m['n']} instances each way, started in four "
                "interleaved batches; the median batch, KiB per instance):", "",
                "| instance | Slab | of which unreclaimable | KernelStack | PageTables |", "|---|---|---|---|---|"]
        for mode, label in (("default", "default (own network namespace, loopback)"),
                            ("net-host", "`--net host` (no network namespace)")):
            k = m[mode]
            out.append(f"| {label} | {k['Slab']:.0f} | {k['SUnreclaim']:.0f} | {k['KernelStack']:.0f} | "
                       f"{k['PageTables']:.0f} |")
        out += ["", f"`mult rm -f` of all {2 * m['n']} names at once: {m['rm_calls_total_per_instance']} system calls "
                "per instance; the most frequent (calls per instance): " +
                ", ".join(f"{c} {k}" for c, k in m["rm_calls_per_instance"]) + "."]
    m, err = load(res, "profile", "rss-map")
    if m:
        r = m["rollup"]
        out += ["", f"mult's resident set while it waits for an instance: RSS {r.get('Rss')} KiB, of which "
                f"{r.get('Anonymous')} KiB anonymous; Pss {r.get('Pss')} KiB. RSS per mapping (KiB):", "",
                "| mapping | RSS KiB |", "|---|---|"]
        out += [f"| {os.path.basename(k) if k.startswith('/') else k} | {v} |" for k, v in m["by_mapping"][:12]]
    return "\n".join(out)


def strace_ms(res, kind, call, field="all_median_ms_per_run"):
    d, _ = load(res, "profile", "strace")
    if not d:
        return None
    if field == "all_median_ms_per_run":
        return d[kind].get(field, dict(d[kind]["median_ms_per_run"])).get(call)
    return d[kind].get(field, {}).get(call)


def offcpu(res, comm, where):
    d, _ = load(res, "profile", "offcpu")
    if not d:
        return None
    return next((r for r in d["rows"] if r["comm"] == comm and r["where"] == where), None)


def findings_md(res):
    """What the numbers say is slow, with the evidence from this run.
    Mechanisms (kernel behaviour, mult's code paths) are stated as such;
    every number comes from this run's results."""
    g = lambda sec, name: median_ms(res, sec, name)[0]
    hp = os.path.join(res, "host.json")
    host = json.load(open(hp)) if os.path.exists(hp) else {}
    rm_batch = host.get("rm_batch", 100)
    libs = host.get("mult_libs", [])
    out = []

    # exec
    ex, ns, cex = g("exec", "mult"), g("exec", "nsenter"), g("exec", "crun")
    move, nomove = g("profile", "cg-move"), g("profile", "cg-nomove")
    mv = move - nomove if move is not None and nomove is not None else None
    out.append(
        f"- **exec ({fmt(ex)} ms; nsenter {fmt(ns)}, crun exec {fmt(cex)}).** The entering process "
        f"borrows mult's memory until it execs (`CLONE_VM | CLONE_VFORK` on a stack of its own, as "
        f"posix_spawn; no page tables to copy, no copy-on-write faults on either side), is "
        f"cloned straight into the instance's cgroup v2 cgroup (`clone3(CLONE_INTO_CGROUP)`) and moves "
        f"itself into its v1 cgroups by writing 0 to their `tasks` files, so mult itself never migrates: "
        f"a migration by pid, as crun's exec does, costs {fmt(mv)} ms here after 50 ms without cgroup "
        f"writes (the cgroup lock waits for an RCU grace period). What exec costs over nsenter is mult's "
        f"own start (`mult --version` {fmt(g('profile', 'version'))} ms) and what nsenter does not do: read "
        f"the instance's config, install its seccomp filter, drop capabilities. (`mult-oci exec` shares "
        f"the code: {fmt(g('exec', 'mult-oci'))} ms in this run.)")

    # run to exit
    run, floor, crun = g("start", "mult"), g("start", "unshare-floor"), g("start", "crun")
    r_mult, _ = load(res, "start", "mult")
    r_floor, _ = load(res, "start", "unshare-floor")
    cpu = lambda r: (r["user"] + r["system"]) * 1000 if r else None
    ver = g("profile", "version")
    disc = offcpu(res, "mult", "blkdev_issue_discard")
    rcu = [offcpu(res, c, "synchronize_rcu_expedited") for c in ("mult", "mult-init")]
    rcu_ms = sum(r["per_run_ms"] for r in rcu if r) if any(rcu) else None
    pre = offcpu(res, "mult", "preempted: waiting for a CPU")
    sub_max = strace_ms(res, "run", "write(cgroup.subtree_control)", "max_ms")
    sub, sub_alone = g("profile", "subtree-noop"), None
    cp, _ = load(res, "profile", "cpu")
    cpu_txt = ""
    if cp:
        share = lambda c, d: sum(p for cc, dd, p in cp["by_dso"] if cc == c and dd == d)
        ld = share("mult", "ld-linux-x86-64.so.2")
        kern = share("mult", "[kernel.kallsyms]")
        clone3 = dict(cp["syscalls"]).get("__do_sys_clone3")
        sc = dict(cp["syscalls"])
        files = sum(sc.get(k, 0) for k in ("__x64_sys_openat", "__x64_sys_mkdir", "__x64_sys_rmdir",
                                             "__x64_sys_unlink", "__x64_sys_rename", "__x64_sys_unlinkat"))
        hot = [f for c, d, f, p in cp["symbols"][:8] if c == "mult" and d == "[kernel.kallsyms]"
               and not f.startswith("_raw_spin")]
        cpu_txt = (f"perf puts {kern:.0f} % of the run's CPU in the kernel on behalf of mult (creating the "
                   f"namespaces in `clone3` {fmt(clone3, '.0f')} %; file and directory calls, `openat`, "
                   f"`mkdir`, `rmdir`, `unlink` (state files, cgroup files), {files:.0f} %" +
                   (f", with {', '.join(f'`{h}`' for h in hot[:3])} among the hottest kernel functions" if hot
                    else "") +
                   ("; `recently_deleted` is ext4 looking for a free inode to create a file in" if
                    "recently_deleted" in hot else "") + "), " +
                   (f"{ld:.0f} % in the dynamic loader, " if libs else "none in a dynamic loader (static), ") +
                   f"and {cp.get('cacheinfo_pct', 0):.0f} % in glibc's start-up probing of cache sizes "
                   f"(`intel_check_word`, `handle_intel`: `cpuid`, which traps to the hypervisor on a VM) in "
                   f"mult and in the command (mult-init is built against musl, which does no such probing).")
    if sub is not None and nomove is not None:
        sub_alone = sub - nomove
    gd, gs, ms = (g("profile", f"libc-{k}") for k in ("glibc-dynamic", "glibc-static", "musl-static"))
    libc_txt = (f" A program that only returns takes {fmt(gd)} ms linked against glibc ({fmt(gs)} ms "
                f"statically) and {fmt(ms)} ms against musl: on this VM glibc's start-up alone costs "
                f"every glibc process (mult, the command, crun) about {fmt(gd - ms if gd and ms else None)} ms "
                f"more; mult is C++ and Debian ships no C++ library for musl, so only mult-init avoids it."
                if gd is not None and ms is not None else "")
    out.append(
        f"- **run to exit ({fmt(run)} ms; floor {fmt(floor)}, crun {fmt(crun)}).** On the CPU mult's run "
        f"costs {fmt(cpu(r_mult))} ms (user + system, all its processes) against {fmt(cpu(r_floor))} ms for "
        f"the floor; `mult --version` alone takes {fmt(ver)} ms (" +
        (f"shared libraries loaded and relocated on every command: "
         f"{', '.join(l.split('.so')[0] for l in libs)}" if libs else
         "linked statically: no dynamic loader, no shared library") +
        f"; libmnl, libnftables and libseccomp are opened only when a network or an uncached "
        f"filter needs them)." + libc_txt + " " + cpu_txt + " The rest is waiting. Off the CPU, per run in this run: "
        + (f"{fmt(disc['per_run_ms'])} ms in `blkdev_issue_discard` (removing the instance's state "
           f"files on a file system mounted with `discard`); " if disc else
           "no waits on the state files: they are on a tmpfs here, as /run usually is (this VM's /run is "
           "ext4 without a journal, whose inode allocator scans every inode freed in the last 5 s: a loop "
           "of runs there pays for its own churn); ") +
        f"{fmt(rcu_ms)} ms in "
        f"`synchronize_rcu_expedited` (RCU grace periods: the detach of the old root after `pivot_root`, "
        f"which crun and runc do too and the floor does not, and the mount namespace's teardown); {fmt(pre['per_run_ms'] if pre else None)} ms preempted (the load); "
        f"the remainder is the chain of processes: the instance's first process spawns the command "
        f"sharing its memory (`CLONE_VM | CLONE_VFORK`) and becomes mult-init once the command has exec'd, "
        f"so the command starts without waiting for mult-init, and mult-init's exec overlaps the command's "
        f"own start. The network namespace, the costliest the kernel makes (its loopback device), is "
        f"made by mult while the instance mounts its root, and joined by the instance after `pivot_root` "
        f"(sysfs, which shows the mounter's namespace, is mounted after it), so that neither waits for "
        f"the other. `cgroup.subtree_control` is read first and written only when a controller is missing "
        f"(a write takes the global cgroup mutex and first drains dying cgroups: " +
        ("no measurable cost timed alone" if sub_alone is not None and sub_alone < 0.5
         else f"{fmt(sub_alone)} ms timed alone") + f", up to {fmt(sub_max)} ms in one run under strace).")

    # density
    d, _ = load(res, "density", "mult")
    ds, _ = load(res, "density", "mult-sleep")
    dc, _ = load(res, "density", "crun")
    nn, _ = load(res, "profile", "netns")
    if d:
        per_ms = lambda x, key: x[key] * 1000 / max(x["started"], 1)
        acct, _ = accounted(d)
        netns = (nn["default"]["Slab"] - nn["net-host"]["Slab"]) if nn else None
        kern = lambda m: sum(nn[m][k] for k in ("Slab", "KernelStack", "PageTables"))
        init = (kern("default") - kern("no-init")) if nn and "no-init" in nn else None
        rmc = nn["rm_calls_total_per_instance"] if nn else None
        rmtop = ", ".join(f"{c} {v}" for c, v in nn["rm_calls_per_instance"][:5]) if nn else "n/a"
        crun_part = (f" (crun: {per_ms(dc, 'start_s'):.1f} and {per_ms(dc, 'rm_s'):.1f} ms)") if dc else ""
        sleep_part = ""
        if ds:
            sacct, _ = accounted(ds)
            sleep_part = (f" An instance running `sleep` under its init (the *sleep* row) is {sacct:.0f} KiB: "
                          f"the {sacct - acct:.0f} KiB more are that busybox sleep, its own Pss, task, kernel "
                          f"stack and page tables (a static binary mapped far from its stack and heap), "
                          f"which is the instance's workload, not mult's.")
        out.append(
            f"- **density: {acct:.0f} KiB per idle instance with everything counted (target 400); "
            f"{per_ms(d, 'start_s'):.1f} ms per start (`create` and `start`), {per_ms(d, 'rm_s'):.1f} ms per "
            f"removal{crun_part}; the targets mean 10 ms each.** An idle instance is a booted system "
            f"instance whose /etc/rc has ended: its one process is its init, as crun's containers are one "
            f"process (sleep). Of its memory, the instance's network namespace (loopback only) is "
            f"{fmt(netns, '.0f')} KiB of slab (default against `--net host`): the kernel's per-namespace state "
            f"(loopback device, IPv4 and IPv6 tables, per-namespace sysctl tables, /proc/net entries, "
            f"kernel sockets), which mult cannot shrink; " +
            (f"mult-init, the instance's PID 1, holds {init:.0f} KiB of kernel memory (its task, kernel "
             f"stack and page tables; an instance with it against one with `--init /bin/sleep`) and "
             f"{d['pss_per_instance_kib']:.0f} KiB Pss; " if init is not None else "") +
            f"the rest is the cgroup, the mount, PID, IPC, UTS and cgroup namespaces, the instance's "
            f"mounts and the state files on tmpfs ({d.get('shmem_per_instance_kib', 0):.0f} KiB)." + sleep_part +
            f" `mult rm -f` with {rm_batch} names kills and waits for one instance after another, then "
            f"removes its cgroup and state: {fmt(rmc, '.0f')} system calls per instance ({rmtop}; the "
            f"`newfstatat` calls look for the instance's directory in each cgroup hierarchy).")

    # footprint
    f, _ = load(res, "footprint", "rss-mult")
    m, _ = load(res, "profile", "rss-map")
    if f and m:
        top = ", ".join(f"{os.path.basename(n) if n.startswith('/') else n} {v}" for n, v in m["by_mapping"][:6])
        out.append(
            f"- **peak RSS {f['median_kib']:.0f} KiB (target 2048).** Little of it is mult's own memory: "
            f"{m['rollup'].get('Anonymous')} KiB is anonymous; the rest is pages of mapped files ({top} KiB), "
            f"shared with every other process that maps them, and brought in by the kernel 64 KiB around "
            f"each page fault. The faces are built `-Os` with `--gc-sections` and " +
            ("linked statically, as static PIEs: only the parts of the C library mult calls, and no "
             "dynamic loader or shared C library mapped on every start (dynamically linked, mult peaked "
             "at 2.2 MiB in earlier runs)" if not libs else f"need no shared library but {', '.join(libs)}") +
            f"; libcap is linked in, libmnl, libnftables and libseccomp are opened only when a network "
            f"or an uncached filter needs them, and no libm or iostreams is linked; `-O2` measured no "
            f"faster and 300 KiB larger.")

    # seccomp
    o, _ = load(res, "overhead", "syscalls")
    if o:
        med, best = o["median_ns"], o.get("min_ns", o["median_ns"])
        sh = lambda t, op: t["mult"][op] - t["mult-unconfined"][op]
        out.append(
            f"- **inside an instance.** The clearest cost is the default seccomp filter on the cheapest call: "
            f"getpid {med['host']['getpid']:.0f} ns on the host, {med['mult']['getpid']:.0f} ns inside "
            f"(+{sh(med, 'getpid'):.0f} ns; best rounds +{sh(best, 'getpid'):.0f} ns), while unconfined "
            f"instances match the host ({med['mult-unconfined']['getpid']:.0f} ns). On heavier calls the "
            f"filter's share is within the noise of this host (medians: " +
            ", ".join(f"{op} {sh(med, op):+.0f} ns" for op in o["ops"] if op != "getpid") +
            "). A filtered task takes the kernel's slow system-call entry path; calls the filter allows "
            "whatever their arguments are then looked up in the kernel's bitmap, not run through the "
            "filter (a binary tree, `SCMP_FLTATR_CTL_OPTIMIZE` 2).")

    # mult-oci
    c, _ = load(res, "cycle", "mult-oci")
    if c and c.get("failed"):
        out.append(
            f"- **mult-oci.** {c['failed']} of {c['failed'] + len(c['times'])} create/start cycles failed: "
            f"`start` said \"its process exited before start\" (crun and runc: none on the same bundle); "
            f"their times are left out of its median.")
    return "\n".join(out)


# ---------------------------------------------------------------- targets


def paired_medians(res):
    """{name: median ms} of bench/paired.py's runs in the start section, or None."""
    d, _ = load(res, "start", "paired")
    if not d or "rows" not in d:
        return None
    return {k: v["median_ms"] for k, v in d["rows"].items() if v.get("median_ms") is not None}


def paired_md(res):
    d, _ = load(res, "start", "paired")
    if not d or "rows" not in d:
        return ""
    rows = d["rows"]
    base = rows.get("crun", {}).get("median_ms")
    floor = rows.get("unshare-floor", {}).get("median_ms")
    out = [f"**Paired runs** (`bench/paired.py`): the same commands in turn, one run of each a "
           f"round, {d['rounds']} rounds after {d['warmup']} of warm-up, so that every command meets "
           f"the same load; the rounds go through every order of the commands alike, so that each "
           f"follows each other one equally often (what a run leaves the kernel to finish, such as a "
           f"network namespace's teardown, falls on the next run). Each run is timed from spawn to "
           f"reaped exit, from a Python driver (a little more than hyperfine's time). crun runs in its "
           f"private mount namespace as above, entered just for its spawn. The targets are judged on "
           f"these.", "",
           "| command | median ms | p25 ms | p75 ms | min ms | max ms | runs | × unshare-floor | × crun |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        m = r.get("median_ms")
        failed = f" (+{r['failed']} failed)" if r.get("failed") else ""
        out.append(f"| {name} | {fmt(m)} | {fmt(r.get('p25_ms'))} | {fmt(r.get('p75_ms'))} | "
                   f"{fmt(r.get('min_ms'))} | {fmt(r.get('max_ms'))} | {r['runs']}{failed} | "
                   f"{fmt(ratio(m, floor))} | {fmt(ratio(m, base))} |")
    return "\n".join(out) + "\n"


def targets(res):
    t = []

    def row(what, target, value, ok):
        t.append((what, target, value, "n/a" if ok is None else ("met" if ok else "**not met**")))

    def le(v, lim):
        return None if v is None else v <= lim

    mult, _ = median_ms(res, "start", "mult")
    crun, _ = median_ms(res, "start", "crun")
    floor, _ = median_ms(res, "start", "unshare-floor")
    # Judged on the paired runs where there are some: the rows one after the
    # other can meet different load on this shared host.
    pr = paired_medians(res)
    for peer, name, lim in ((crun, "crun", 0.5), (floor, "unshare floor", 1.5)):
        key = "crun" if name == "crun" else "unshare-floor"
        seq = f"{fmt(ratio(mult, peer))}× ({fmt(mult)} vs {fmt(peer)} ms)"
        if pr and pr.get(key) and pr.get("mult"):
            r = ratio(pr["mult"], pr[key])
            row(f"run to exit vs {name}", f"≤ {lim}×",
                f"{fmt(r)}× in paired runs ({fmt(pr['mult'])} vs {fmt(pr[key])} ms); "
                f"one row after the other {seq}", le(r, lim))
        else:
            r = ratio(mult, peer)
            row(f"run to exit vs {name}", f"≤ {lim}×", seq, le(r, lim))

    oci, oerr = median_ms(res, "cycle", "mult-oci")
    ccyc, _ = median_ms(res, "cycle", "crun")
    r = ratio(oci, ccyc)
    row("OCI cycle vs crun", "≤ 0.6×",
        f"{fmt(r)}× ({fmt(oci)} vs {fmt(ccyc)} ms)" if oci else f"n/a ({oerr})", le(r, 0.6))

    ex, _ = median_ms(res, "exec", "mult")
    cex, _ = median_ms(res, "exec", "crun")
    ns, _ = median_ms(res, "exec", "nsenter")
    r = ratio(ex, cex)
    row("exec vs crun exec", "≤ 0.5×", f"{fmt(r)}× ({fmt(ex)} vs {fmt(cex)} ms)", le(r, 0.5))
    r = ratio(ex, ns)
    row("exec vs nsenter", "≤ 2×", f"{fmt(r)}× ({fmt(ex)} vs {fmt(ns)} ms)", le(r, 2))

    d, derr = load(res, "density", "mult")
    if d:
        n = d["n"]
        acct, kern = accounted(d)
        ds, _ = load(res, "density", "mult-sleep")
        row("density: memory per idle instance", "≤ 400 KiB",
            f"{acct:.0f} KiB accounted (Pss {d['pss_per_instance_kib']:.0f} + kernel {kern:.0f} + tmpfs "
            f"{d.get('shmem_per_instance_kib', 0):.0f}); MemAvailable fell {d['per_instance_kib']:.0f} KiB per "
            f"instance, which includes whatever else ran on the host" +
            (f"; with a `sleep` running in each, {accounted(ds)[0]:.0f} KiB" if ds else ""), acct <= 400)
        scale = 1000 / n
        full = d["started"] == n
        row(f"density: start {n}", "1,000 ≤ 10 s",
            f"{d['start_s']:.2f} s" + (f" (×{scale:.0f} ≈ {d['start_s'] * scale:.1f} s for 1,000)" if n != 1000 else "")
            + ("" if full else f", only {d['started']} started"),
            full and d["start_s"] * scale <= 10)
        row(f"density: remove {n}", "1,000 ≤ 10 s",
            f"{d['rm_s']:.2f} s" + (f" (≈ {d['rm_s'] * scale:.1f} s for 1,000)" if n != 1000 else ""),
            d["rm_s"] * scale <= 10)
        left = {k: v + (ds["left"].get(k, 0) if ds else 0) for k, v in d["left"].items()}
        row("density: nothing left", "0", ", ".join(f"{v} {k}" for k, v in left.items()) +
            (" (idle and sleep)" if ds else ""), not any(left.values()))
    else:
        row("density", "", f"n/a ({derr})", None)

    o, oerr = load(res, "overhead", "syscalls")
    if o:
        m = o["median_ns"]
        worst = max(o["ops"], key=lambda op: m["mult"][op] / m["host"][op])
        rs = ", ".join(f"{op} {m['mult'][op] / m['host'][op]:.2f}" for op in o["ops"])
        if "mult-unconfined" in m:
            # The issue's rule: each ratio ≤ 1.05, except where the seccomp
            # filter must cost something, and then how much. A ratio above
            # 1.05 passes when the same call without the filter is ≤ 1.05.
            u = m["mult-unconfined"]
            over = [op for op in o["ops"] if m["mult"][op] / m["host"][op] > 1.05]
            ok = all(u[op] / m["host"][op] <= 1.05 for op in o["ops"])
            ru = ", ".join(f"{op} {u[op] / m['host'][op]:.2f}" for op in o["ops"])
            cost = ", ".join(f"{op} {m['mult'][op] - u[op]:+.0f} ns" for op in over)
            row("syscall ratios inside", "≤ 1.05 each, or the seccomp filter's cost stated",
                f"default seccomp: {rs}; unconfined: {ru}" +
                (f"; above 1.05 only with the filter, which costs {cost} a call" if over else ""), ok)
        else:
            row("syscall ratios inside (default seccomp)", "≤ 1.05 each", rs,
                all(m["mult"][op] / m["host"][op] <= 1.05 for op in o["ops"]))
    else:
        row("syscall ratios", "", f"n/a ({oerr})", None)

    sd, serr = median_ms(res, "seccomp", "default")
    su, _ = median_ms(res, "seccomp", "unconfined")
    p, _ = load(res, "seccomp", "paired")
    d = statistics.median(p["paired_diff_ms"]) if p and p.get("paired_diff_ms") else None
    row("default seccomp profile at start", "≤ +0.5 ms",
        f"{d:+.2f} ms (median of each round's difference; pooled medians {fmt(sd)} vs {fmt(su)} ms "
        f"unconfined)" if d is not None else f"n/a ({serr})",
        le(d, 0.5))

    f, ferr = load(res, "footprint", "rss-mult")
    row("mult's peak RSS (mult run)", "≤ 2 MiB (2048 KiB)",
        f"{f['median_kib']:.0f} KiB" if f else f"n/a ({ferr})", le(f["median_kib"] if f else None, 2048))
    m, merr = load(res, "footprint", "memlimit")
    v = m["min_kib"] if m else None
    row("echo under a memory limit", "< 512 KiB",
        (f"{v} KiB" if v else "above 4096 KiB") if m else f"n/a ({merr})",
        None if not m else (v is not None and v < 512))
    return t


# ---------------------------------------------------------------- plot

PANELS = (("start", "run to exit (/bin/true)", ("mult", "mult-oci", "unshare-floor", "crun", "runc", "bwrap", "true")),
          ("cycle", "OCI create/start/wait/delete", ("mult-oci", "crun", "runc")),
          ("exec", "exec /bin/true in a running instance", ("mult", "mult-oci", "crun", "runc", "nsenter")))


def plot(res, png):
    work = os.path.dirname(os.path.abspath(res))
    panels = []
    for sec, title, order in PANELS:
        rows = [(name, median_ms(res, sec, name)[0]) for name in order]
        rows = [(n, m) for n, m in rows if m is not None]
        if rows:
            panels.append((sec, title, rows))
    if not panels:
        raise OSError("nothing to plot")
    script = [f'set terminal pngcairo size {500 * len(panels)},520 font "sans,10"',
              f'set output "{png}"',
              f"set multiplot layout 1,{len(panels)} title 'medians, ms (lower is better; one run, same host)'",
              "set style fill solid 0.8 border -1", "set boxwidth 0.6", "set grid ytics",
              "set xtics rotate by -30 nomirror", "set yrange [0:*]", "unset key",
              "set offsets 0,0,graph 0.08,0"]
    for sec, title, rows in panels:
        dat = os.path.join(work, f"plot-{sec}.dat")
        with open(dat, "w") as f:
            for i, (name, m) in enumerate(rows):
                f.write(f"{i} {name} {m:.3f} {1 if name.startswith('mult') else 2}\n")
        script += [f"set title '{title}'",
                   f"plot '{dat}' using 0:3:4:xtic(2) with boxes lc variable, "
                   f"'' using 0:3:(sprintf('%.1f', $3)) with labels offset 0,0.7"]
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# ---------------------------------------------------------------- report


def report(res, out_md, png):
    host = json.load(open(os.path.join(res, "host.json")))
    have_plot = False
    try:
        plot(res, png)
        have_plot = True
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"plot failed: {e}", file=sys.stderr)
    d, _ = load(res, "density", "mult")
    n = d["n"] if d else host.get("density")
    md = [f"""# Performance

All figures below come from **one run** of `bench/run-all.sh` on the same
host, with the same binaries (copied from `build/` at the start of the run),
the same busybox image and the same OCI bundles. Times are medians from
hyperfine (`-N`, no shell; {host['runs']} runs after {host['warmup']}
warm-ups per row); ratios are of medians. The benchmarks ran at nice
{host.get('nice', 0)} to lessen the effect of other load on the host. Regenerate with:

    bench/run-all.sh            # DENSITY=1000 RUNS=100 by default

## Host

| | |
|---|---|
| date | {host['date']} |
| kernel | {host['kernel']} |
| CPU | {host['cpu']} × {host['cores']} cores |
| memory | {host['mem_total_mib']} MiB |
| cgroups | {host['cgroups']} |
| file system of the work directory (every runtime's `--root`, the image, the bundles; a tmpfs unless TMPFS=0) | {host.get('fs_state', '?')} |
| file system of /run | {host.get('fs_run', '?')} |
| load average (start → end of the run) | {host['load_start']} → {host.get('load_end', '?')} |
| mult | commit {host['commit']}{' (with uncommitted changes in the work tree)' if host['dirty'] else ''}, built {host['built']} |
| mult-oci | {host['mult_oci']} |
| others | {host['versions']} |

The host is a shared 2-core VM: other builds and tests ran during the run
(see the load average), so single numbers are noisy and rows measured a
minute apart may have met different load. Read medians and ratios; the
*CPU ms* column (user + system time of the measured process tree, from
hyperfine) depends less on the load than wall-clock time does.

**How crun was run.** crun {host['crun_version']} refuses hybrid cgroup hosts
(cgroup v1 controllers with a v2 tree at `/sys/fs/cgroup/unified`). Every crun
command is run with `unshare -m --propagation private` after unmounting
`/sys/fs/cgroup/unified` in that private mount namespace, so that crun sees
a plain cgroup v1 host (and uses its v1 controllers). The `unshare` itself is
outside the measured command: hyperfine runs inside the namespace. runc and
mult run on the host as it is (mult creates its cgroup on the v2 tree and
joins the v1 hierarchies only for limits).

## Targets

| what | target | measured | |
|---|---|---|---|"""]
    for what, target, value, ok in targets(res):
        md.append(f"| {what} | {target} | {value} | {ok} |")
    md.append("")
    if have_plot:
        md.append(f"![medians]({os.path.basename(png)})")
        md.append("")
    md.append("""## 1. Run to exit

`mult run --rootfs R -- /bin/true` against the kernel's floor for the same
namespaces (`unshare -pfmuinC --fork /bin/true`), `mult-oci run`, `crun run`
and `runc run` on a bundle of the same root (read-only, /bin/true),
`bwrap --unshare-all` and plain `/bin/true`. (`bench/start-time.sh`)
""")
    md.append(timing_md(res, "start", ("mult", "mult-oci", "unshare-floor", "crun", "runc", "bwrap", "true"),
                        ("unshare-floor", "crun")))
    md.append(paired_md(res))
    md.append("""
## 2. OCI cycle

What an engine does per container: `create`, `start`, poll `state` until
`"status": "stopped"`, `delete`; one shell script per iteration (its PID
is the container id), each runtime call under a 10 s timeout, the same
bundle for every runtime. (`bench/oci-cycle.sh`)
""")
    md.append(timing_md(res, "cycle", ("mult-oci", "crun", "runc"), ("crun",)))
    md.append("""
## 3. Entering a running instance

`/bin/true` run inside an idle instance (`sleep 100000`): `mult exec NAME --
/bin/true`, `mult-oci exec`, `crun exec`, `runc exec`, and the floor
`nsenter -t PID -a /bin/true` (namespaces only: no cgroup, capabilities,
seccomp or no_new_privs). (`bench/exec.sh`)
""")
    md.append(timing_md(res, "exec", ("mult", "mult-oci", "crun", "runc", "nsenter"), ("crun", "nsenter")))
    md.append(f"""
## 4. Density

{n} instances of each kind started one after the other, state under a
temporary `--root` in the work directory, then removed with `mult rm -f` in
batches of {host.get('rm_batch', 100)} names. *Idle* instances, on which the targets are
judged, are booted system instances (`mult create NAME --rootfs R`, then
`mult start NAME`): the image's /etc/rc runs and ends, and the instance's one
process is its init, mult-init. *Sleep* instances are `mult run -d --rootfs R
-- sleep 100000`: mult-init and a busybox sleep under it. MemAvailable is
sampled (median of 5 over a second) before, 2 s after the last start, and 2 s
and 10 s after removal (the kernel frees namespaces and cgroups in the
background); *MemAvailable Δ per instance* is its drop divided by the
instances started. *Accounted* is the sum of the columns after it: the Pss of
the instances' own processes (summed from `smaps_rollup`), the kernel's growth
(Slab, KernelStack, PageTables and Percpu in /proc/meminfo) and of tmpfs pages
(Shmem: the state files, which live on tmpfs here as under /run). *Slope* is the
least-squares fit of MemAvailable against the number started, sampled 20
times during the ramp (less sensitive to one burst elsewhere). *Left behind* counts
instances still listed, state files, cgroup directories (every hierarchy),
mounts on the host naming the state directory, and instance processes still
alive. crun: the same N with `crun run -d` on the sleep bundle (in its
private mount namespace), removed with `crun delete -f` one by one; its
containers have no init of their own (one process each) and no
per-container state beyond crun's. (`bench/density.sh`)

MemAvailable is the whole host's; builds or tests running at the same time
move it by tens of MiB, so with few instances the per-instance figure is
noise, and even at 1,000 it is the least steady column.
""")
    md.append(density_md(res))
    md.append("""
## 5. Overhead inside an instance

`bench/syscalls.c` (static, `gcc -static -O2`): getpid (raw syscall),
open+close and stat of its own file, fork+exit+wait, and a one-byte pipe
round trip between two processes, both on the CPU the test started on (left
to the scheduler, one CPU or two decided that figure from run to run); ns
per operation. Run on the host and
inside instances (bind-mounted read-only at /bench), with mult's default
seccomp profile and with `--seccomp unconfined`. Each test runs in 10
batches and keeps its fastest; rounds interleave the three, rotating their
order. The last column is what the default filter adds per operation
(mult minus unconfined). The targets are judged on the medians.
(`bench/overhead.sh`)
""")
    md.append(overhead_md(res))
    md.append("""
## 6. The runtime's own cost

Peak resident set (`/usr/bin/time -f %M`) of the command that sets an
instance up and waits for it; this is the largest RSS among it and the
children it reaps (for mult: mult-init and the command, both much smaller
than mult itself; for crun and runc likewise their container process).
Then the smallest memory limit under which `mult run --memory M -- echo ok`
still prints ok. (`bench/footprint.sh`)
""")
    md.append(footprint_md(res))
    extra = features_md(res)
    if extra:
        md.append("\n## 7. Features at start: limits, seccomp, network\n")
        md.append(extra)
    md.append("\n## What is slow, and why\n")
    md.append(findings_md(res))
    if os.path.isdir(os.path.join(res, "profile")):
        md.append("\n## Evidence: where the time goes (`bench/profile.sh`)\n")
        md.append(profile_md(res))
    md.append("")
    with open(out_md, "w") as f:
        f.write("\n".join(md))


def main():
    a = sys.argv[1:]
    if a[0] == "--table":
        res, sec, order, bases = a[1], a[2], a[3].split(","), a[4:]
        print(timing_text(res, sec, order, bases))
    elif a[0] == "--row":
        r, err = load(a[1], a[2], a[3])
        print(f"{r['median'] * 1000:.2f} ms median" + (f", {r['failed']} runs failed" if r.get("failed") else "")
              if r else f"n/a ({err})")
    elif a[0] == "--density":
        print(density_md(a[1]))
    elif a[0] == "--overhead":
        print(overhead_md(a[1]))
    elif a[0] == "--footprint":
        print(footprint_md(a[1]))
    elif a[0] == "--findings":
        print(findings_md(a[1]))
    elif a[0] == "--profile":
        print(profile_md(a[1]))
    elif a[0] == "--targets":
        for r in targets(a[1]):
            print(" | ".join(r))
    elif a[0] == "--report":
        report(a[1], a[2], a[3])


if __name__ == "__main__":
    main()
